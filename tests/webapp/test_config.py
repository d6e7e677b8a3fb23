"""Configuration: development defaults, production refuses to start without settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from webapp.config import ConfigurationError, load

STRONG_KEY = "Zq8v-3Kd_x7PmW2rT9yLb4NcH6sJ1gFe5uAoVi0"


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
        ("REDIS_URL", {"DATABASE_URL": "postgresql://db/x", "SECRET_KEY": STRONG_KEY}),
        (
            "OIDC_ISSUER",
            {
                "DATABASE_URL": "postgresql://db/x",
                "SECRET_KEY": STRONG_KEY,
                "REDIS_URL": "redis://r",
            },
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
        "SECRET_KEY": STRONG_KEY,
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


PRODUCTION = {
    "LEDGERLINK_ENV": "production",
    "DATABASE_URL": "postgresql://db/x",
    "SECRET_KEY": STRONG_KEY,
    "REDIS_URL": "redis://r",
    "OIDC_ISSUER": "https://id.example.org",
    "OIDC_CLIENT_ID": "c",
    "OIDC_CLIENT_SECRET": "s",
}


@pytest.mark.parametrize(
    ("setting", "value", "rule"),
    [
        ("SECRET_KEY", "a" * 32, "too predictable"),
        ("SECRET_KEY", "ab" * 40, "too predictable"),
        ("SECRET_KEY", "short-but-random-Q7", "at least 32"),
        ("OIDC_ISSUER", "http://id.example.org", "https://"),
        ("LEDGERLINK_TEST_RATE_LIMIT", "0", "from 1 upwards"),
        ("LEDGERLINK_TEST_RATE_LIMIT", "-3", "from 1 upwards"),
        ("LEDGERLINK_TEST_RATE_LIMIT", "abc", "whole number"),
        ("PORT", "eighty", "from 1 to 65535"),
        ("LEDGERLINK_EXPORT_SETTLE_SECONDS", "soon", "a number"),
        ("LEDGERLINK_EXPORT_RETRY_DELAYS", "60,later", "a number"),
    ],
)
def test_production_refuses_a_weak_or_malformed_setting(tmp_path, setting, value, rule):
    with pytest.raises(ConfigurationError, match=setting) as refused:
        load(tmp_path, {**PRODUCTION, setting: value})
    assert rule in str(refused.value)


def test_production_accepts_strong_settings_and_sends_hsts(tmp_path):
    config = load(tmp_path, PRODUCTION)
    assert config["HSTS"].startswith("max-age=31536000")
    assert config["SESSION_COOKIE_SECURE"] is True
    assert load(tmp_path, {"LEDGERLINK_ENV": "development"})["HSTS"] is None


def production_process(tmp_path, **settings) -> subprocess.CompletedProcess:
    """`flask db status` as an operator starts it: a fresh process, production settings."""
    keyring = tmp_path / "keyring.json"
    if not keyring.exists():
        created = subprocess.run(
            [sys.executable, "-m", "webapp.vault", "create-keyring", str(keyring)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
    env = {
        **PRODUCTION,
        "PATH": "/usr/bin:/bin",
        "LEDGERLINK_VAULT_KEYRING_FILE": str(keyring),
        **settings,
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "db", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("SECRET_KEY", "a" * 32),
        ("OIDC_ISSUER", "http://id.example.org"),
        ("LEDGERLINK_TEST_RATE_LIMIT", "0"),
        ("LEDGERLINK_TEST_RATE_LIMIT", "five"),
    ],
)
def test_a_weak_production_setting_stops_the_process_with_one_line(tmp_path, setting, value):
    result = production_process(tmp_path, **{setting: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert setting in lines[0] and "Traceback" not in result.stderr


def test_a_keyring_file_others_can_read_stops_production(tmp_path):
    production_process(tmp_path, LEDGERLINK_ENV="development")  # creates the keyring
    keyring = tmp_path / "keyring.json"
    keyring.chmod(0o644)
    result = production_process(tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and len(lines) == 1, result.stderr
    assert "LEDGERLINK_VAULT_KEYRING_FILE" in lines[0] and "chmod 600" in lines[0]


@pytest.mark.parametrize(
    ("extra", "setting", "rule"),
    [
        ({"SMTP_HOST": "smtp.example.org", "PUBLIC_URL": "http://x"}, "PUBLIC_URL", "https://"),
        (
            {"SMTP_HOST": "smtp.example.org", "PUBLIC_URL": "https://x", "SMTP_SECURITY": "none"},
            "SMTP_SECURITY",
            "starttls or tls",
        ),
        ({"SMTP_SECURITY": "ssl3"}, "SMTP_SECURITY", "expected one of"),
        ({"SMTP_PORT": "mail"}, "SMTP_PORT", "whole number"),
        ({"LEDGERLINK_DEV_MAIL": "1"}, "LEDGERLINK_DEV_MAIL", "refused in production"),
    ],
)
def test_production_refuses_mail_settings_that_leak(tmp_path, extra, setting, rule):
    with pytest.raises(ConfigurationError, match=setting) as refused:
        load(tmp_path, {**PRODUCTION, **extra})
    assert rule in str(refused.value)


def test_mail_settings_default_by_their_security(tmp_path):
    config = load(
        tmp_path, {**PRODUCTION, "SMTP_HOST": "smtp.example.org", "PUBLIC_URL": "https://l/"}
    )
    assert (config["SMTP_SECURITY"], config["SMTP_PORT"]) == ("starttls", 587)
    assert config["PUBLIC_URL"] == "https://l"
    tls = load(
        tmp_path,
        {**PRODUCTION, "SMTP_HOST": "s", "SMTP_SECURITY": "tls", "PUBLIC_URL": "https://l"},
    )
    assert tls["SMTP_PORT"] == 465
    assert load(tmp_path, {"LEDGERLINK_ENV": "development"})["SMTP_HOST"] is None
