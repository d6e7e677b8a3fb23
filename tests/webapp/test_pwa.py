"""The PWA shell: manifest, icons, service worker, offline page, security headers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_names_existing_icons(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert manifest["lang"] == "nb" and manifest["start_url"] == "/"
    sizes = {icon["sizes"] for icon in manifest["icons"]}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200, icon["src"]


def test_service_worker_is_served_from_the_root_and_never_cached_stale(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert "offline.html" in response.get_data(as_text=True)


def test_offline_page(client):
    response = client.get("/offline")
    assert response.status_code == 200
    assert 'lang="nb"' in response.get_data(as_text=True)


def test_security_headers_and_no_store_for_signed_in_pages(auth, client, make):
    org = make.org()
    make.member(org, "kari@example.org")
    auth.login("kari@example.org")
    response = client.get(f"/o/{org.slug}/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_no_inline_scripts_in_templates():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert "<script>" not in text and " onclick=" not in text, template
