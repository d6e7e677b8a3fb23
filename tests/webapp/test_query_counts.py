"""The pages a coordinator opens most send a fixed number of SQL statements, however many
integrations, runs and claims the organisation has (no query per card, run or claim).

Counts are deterministic, so they are asserted exactly against each other; times are not
(bench/pages.py measures those).
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.querycount import counting_queries
from tests.webapp.exporting import bulk_claims, schedule
from webapp.db import db, utcnow
from webapp.models import ExportItem, SyncRun

MAX_QUERIES = 12


def organisation(make, slug: str, integrations: int):
    """An organisation with `integrations` connected integrations, each with a schedule,
    runs of every outcome (one under way), claims routed to it, booked and refused."""
    org = make.org(f"Forening {slug}", slug=slug)
    make.member(org, "admin@example.org", "coordinator_admin")
    now = utcnow()
    claim_ids = bulk_claims(org, 3 * integrations, lines=2, prefix=slug)
    for n in range(integrations):
        integration = make.integration(org, name=f"Xledger {n}", status="connected")
        schedule(integration, "daily", {"time": "02:30"})
        runs = [
            SyncRun.create(
                integration=integration,
                trigger="schedule",
                status=status,
                message={"nb": f"nb {status}", "en": f"en {status}"},
                started_at=now - dt.timedelta(days=days),
                finished_at=now - dt.timedelta(days=days),
                job_id=f"{slug}-{n}-{days}",
            )
            for days, status in enumerate(("running", "succeeded", "partial", "failed"))
        ]
        for position, claim_id in enumerate(claim_ids[3 * n : 3 * n + 3]):
            db.execute_sql(
                "UPDATE expense_claim SET integration_id = %s WHERE id = %s",
                (integration.id, claim_id),
            )
            if position < 2:
                ExportItem.create(
                    integration=integration,
                    claim=claim_id,
                    run=runs[2],
                    reference=f"LL-{integration.id}-{claim_id}",
                    status="exported" if position == 0 else "failed",
                    error=None if position == 0 else {"nb": "Feil", "en": "Wrong"},
                )
    return org


def queries(client, path: str) -> int:
    client.get(path)  # the first visit may write the language to the session
    with counting_queries(db.obj) as seen:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(seen)


@pytest.mark.parametrize(
    "page",
    [
        "/o/{slug}/",
        "/o/{slug}/integrations/{first}/runs",
        "/o/{slug}/claims/",
        "/o/{slug}/claims/?status=failed",
    ],
)
def test_a_page_sends_as_many_queries_for_20_integrations_as_for_2(auth, client, make, page):
    small = organisation(make, "liten", 2)
    large = organisation(make, "stor", 20)
    auth.login("admin@example.org")

    def first(org) -> int:
        return min(i.id for i in org.integrations)

    few = queries(client, page.format(slug=small.slug, first=first(small)))
    many = queries(client, page.format(slug=large.slug, first=first(large)))

    assert few == many, (page, few, many)
    assert many <= MAX_QUERIES, (page, many)
