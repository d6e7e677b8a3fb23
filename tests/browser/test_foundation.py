"""The demo user signs in, sees the dashboard, switches language; axe-core everywhere."""

from __future__ import annotations

from playwright.sync_api import expect


def test_sign_in_dashboard_language_switch_and_accessibility(page, sign_in, axe_check, make):
    org = make.org("Demoforeningen", slug="demoforeningen")
    make.member(org, "koordinator@demo.ledgerlink.no", "coordinator_admin")

    page.goto("/auth/login")
    expect(page.locator("html")).to_have_attribute("lang", "nb")
    axe_check(page)

    sign_in(page, "koordinator@demo.ledgerlink.no")
    expect(page).to_have_url(f"{page.url.split('/o/')[0]}/o/demoforeningen/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Demoforeningen")
    expect(page.get_by_role("link", name="English")).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Integrations for Demoforeningen")
    axe_check(page)
    # The choice sticks for the next page too.
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_no_access_and_error_pages_are_accessible(page, sign_in, axe_check):
    sign_in(page, "stranger@example.org")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    axe_check(page)
    page.goto("/o/somewhere-else/")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    axe_check(page)


def test_admin_pages_are_accessible(page, sign_in, axe_check, make):
    org = make.org("Forening A")
    sign_in(page, "admin@example.org")
    page.goto("/admin/organizations")
    axe_check(page)
    page.goto(f"/admin/organizations/{org.id}")
    page.get_by_label("E-post").fill("ny@example.org")
    page.get_by_role("button", name="Inviter").click()
    expect(page.get_by_role("status")).to_contain_text("ny@example.org")
    axe_check(page)


def test_works_at_320_px_without_horizontal_scrolling(phone, sign_in, make):
    org = make.org("Demoforeningen", slug="demoforeningen")
    make.member(org, "koordinator@demo.ledgerlink.no", "coordinator_admin")
    sign_in(phone, "koordinator@demo.ledgerlink.no")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 320


def test_service_worker_caches_static_assets_only(page, sign_in, make):
    org = make.org("Demoforeningen", slug="demoforeningen")
    make.member(org, "koordinator@demo.ledgerlink.no", "coordinator_admin")
    sign_in(page, "koordinator@demo.ledgerlink.no")
    page.wait_for_function(
        "navigator.serviceWorker.getRegistration().then(r => !!(r && r.active))", polling=100
    )
    page.reload()
    page.goto("/o/demoforeningen/")
    urls = page.evaluate(
        """async () => {
            const out = [];
            for (const name of await caches.keys()) {
                const cache = await caches.open(name);
                for (const request of await cache.keys()) out.push(request.url);
            }
            return out;
        }"""
    )
    assert any(u.endswith("/static/offline.html") for u in urls)
    assert urls and all("/static/" in u for u in urls), urls
