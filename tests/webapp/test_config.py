"""Configuration: development defaults, production refuses to start without settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from webapp.config import ConfigurationError, load


def test_development_fills_in_local_defaults(tmp_path):
    config = load(tmp_path, {"LEDGERLINK_ENV": "development"})
    assert config["DATABASE_URL"].startswith("sqlite:///")
    assert config["REDIS_URL"] is None
    assert len(config["SECRET_KEY"]) >= 32


@pytest.mark.parametrize(
    ("missing", "environ"),
    [
        ("DATABASE_URL", {}),
        ("SECRET_KEY", {"DATABASE_URL": "postgresql://db/x"}),
        ("REDIS_URL", {"DATABASE_URL": "postgresql://db/x", "SECRET_KEY": "k" * 40}),
        (
            "OIDC_ISSUER",
            {"DATABASE_URL": "postgresql://db/x", "SECRET_KEY": "k" * 40, "REDIS_URL": "redis://r"},
        ),
    ],
)
def test_production_names_the_missing_setting(tmp_path, missing, environ):
    with pytest.raises(ConfigurationError, match=missing):
        load(tmp_path, {"LEDGERLINK_ENV": "production", **environ})


def test_production_refuses_the_sandbox(tmp_path):
    environ = {
        "LEDGERLINK_ENV": "production",
        "DATABASE_URL": "postgresql://db/x",
        "SECRET_KEY": "k" * 40,
        "REDIS_URL": "redis://r",
        "OIDC_ISSUER": "https://id",
        "OIDC_CLIENT_ID": "c",
        "OIDC_CLIENT_SECRET": "s",
        "LEDGERLINK_SANDBOX_URL": "http://127.0.0.1:8765",
    }
    with pytest.raises(ConfigurationError, match="LEDGERLINK_SANDBOX_URL"):
        load(tmp_path, environ)


def test_process_exits_with_one_line_naming_the_setting(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "status"],
        env={"LEDGERLINK_ENV": "production", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "DATABASE_URL" in lines[0]
    assert "Traceback" not in result.stderr
