"""How runs end when they cannot finish: claims a run never sent go back to waiting (for each
system), a long wait the provider asks for ends the run as "waiting until HH:MM" in the
organisation's time zone and resumes by itself, and support finds the provider's ids under
"Technical details"."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from peewee import OperationalError

from sandbox import demo
from tests.webapp.exporting import (
    connected,
    connected_xledger,
    final_run,
    ledger_references,
    wait_for,
)
from webapp.db import utcnow
from webapp.models import ExportItem, Integration, SyncRun
from webapp.services import exports, integrations, scheduler


@pytest.fixture
def app_config(app_config):
    return {
        **app_config,
        "EXPORT_SEND_BACKOFF": 0.05,
        "EXPORT_MAX_RETRY_WAIT": 1.5,
        "EXPORT_SETTLE_SECONDS": 0.5,
    }


def export_now(integration) -> SyncRun:
    started = exports.start_manual(Integration.get_by_id(integration.id))
    assert started.run is not None, started.refused
    return final_run(started.run.id)


def items(integration) -> dict[int, str]:
    rows = ExportItem.select().where(ExportItem.integration == integration)
    return {row.claim_id: row.status for row in rows}


def reconnect(integration) -> None:
    """What a coordinator's new credentials do: the integration may export again."""
    fresh = Integration.get_by_id(integration.id)
    integrations.change(
        fresh, {"status": "connected", "reauth_reason": None}, actor=None, action="test.fixed"
    )


def in_ledger(sandbox, system: str, integration_id: int) -> int:
    """How many of the system's records carry this integration's claim references."""
    prefix = f"LL-{integration_id}-"
    ledger = sandbox.ledger()[system]
    rows = (
        ledger["journal_lines"] + ledger["general_ledger_entries"]
        if system == "business_central"
        else [row for table in ledger.values() for row in table.values() for row in row]
        if system == "dataverse"
        else []
    )
    return sum(1 for row in rows if prefix in json.dumps(row))


SYSTEMS = {
    "dynamics_bc": (
        "business_central",
        {
            "environment": demo.BC_ENVIRONMENT,
            "company": demo.BC_COMPANY_NAME,
            "journal": demo.BC_JOURNAL,
        },
    ),
    "dynamics_dataverse": (
        "dataverse",
        {"environment_url": demo.DATAVERSE_URL, "table": demo.DATAVERSE_TABLE},
    ),
}


@pytest.mark.parametrize("type_key", sorted(SYSTEMS))
def test_a_run_refused_before_sending_returns_its_claims_to_waiting(make, sandbox, type_key):
    # Microsoft Entra refuses the app's token: nothing carrying a claim left, so no claim is
    # "sent, outcome unknown"; they wait, and go once when the credentials work again.
    system, settings = SYSTEMS[type_key]
    app = sandbox.new_entra_app()
    org = make.org()
    integration = connected(org, type_key, {**app, **settings})
    claims = [make.claim(org) for _ in range(3)]
    sandbox.expire_client_secret(app["client_id"])

    run = export_now(integration)

    assert (run.status, run.error_kind) == ("failed", "auth")
    assert items(integration) == {}
    assert in_ledger(sandbox, system, integration.id) == 0
    assert "http" not in run.message["nb"] and "{" not in run.message["en"]

    sandbox.restore_client_secret(app["client_id"])
    reconnect(integration)
    again = export_now(integration)
    assert again.status == "succeeded", again.message
    assert items(integration) == {claim.id: "exported" for claim in claims}
    assert again.skipped_count == 0  # nothing to reconcile: nothing had been left pending


def test_an_xledger_write_that_left_is_asked_about_not_returned(make, sandbox):
    # Xledger's first call is the write itself: once it left, its claims are "sent, outcome
    # unknown" (pending) and the next run asks Xledger before sending: never booked twice.
    token = sandbox.new_xledger_token()
    org = make.org()
    integration = connected_xledger(org, token)
    claims = [make.claim(org) for _ in range(2)]
    sandbox.set_fault(token, "status", status=502)

    run = export_now(integration)

    assert (run.status, run.error_kind) == ("failed", "transient")
    assert items(integration) == {claim.id: "pending" for claim in claims}
    sandbox.clear_faults(token)
    export_now(integration)
    assert items(integration) == {claim.id: "exported" for claim in claims}
    assert ledger_references(sandbox, integration.id) == {
        f"LL-{integration.id}-{claim.id}": 1 for claim in claims
    }


def test_a_batch_claimed_ahead_goes_back_to_waiting_when_the_run_stops(
    app, make, sandbox, monkeypatch
):
    # While one batch is sent the run already claims the next. Xledger turns the second call
    # away: its claim was sent (outcome unknown, asked about next time), the third claim never
    # left and simply waits; the next export books each claim once.
    from adapters.xledger import XledgerAdapter

    app.config["EXPORT_BATCH_LINES"] = 3  # one claim (two lines and the balancing line) per call
    token = sandbox.new_xledger_token()
    org = make.org()
    integration = connected_xledger(org, token)
    lines = (("mileage", "100.00"), ("meals", "20.00"))
    claims = [make.claim(org, lines=lines) for _ in range(3)]
    real_export = XledgerAdapter.export
    calls: list[list] = []

    def export(adapter, vouchers):
        if calls:
            sandbox.revoke_xledger_token(token)
        calls.append(vouchers)
        return real_export(adapter, vouchers)

    monkeypatch.setattr(XledgerAdapter, "export", export)
    run = export_now(integration)

    assert (run.status, run.error_kind) == ("failed", "auth")
    assert len(calls) == 2
    assert items(integration) == {claims[0].id: "exported", claims[1].id: "pending"}
    monkeypatch.setattr(XledgerAdapter, "export", real_export)
    sandbox.restore_xledger_token(token)
    reconnect(integration)
    again = export_now(integration)
    assert again.status == "succeeded", again.message
    assert items(integration) == {claim.id: "exported" for claim in claims}
    assert ledger_references(sandbox, integration.id) == {
        f"LL-{integration.id}-{claim.id}": 1 for claim in claims
    }


def test_a_run_that_fails_while_a_call_is_in_flight_books_each_claim_once_after(
    app, make, sandbox, monkeypatch
):
    # One claim per call. The run records an answer and claims the batches ahead in one
    # transaction while the sender goes on by itself. The second such transaction fails while
    # the third call is on its way and the fourth batch waits its turn: the answered but
    # unrecorded second claim and the third are "sent, outcome unknown" (asked about next
    # time); the fourth, claimed but never sent, and the fifth simply wait.
    from webapp.services.exports.run import Export

    app.config["EXPORT_BATCH_LINES"] = 3  # two lines and the balancing line
    token = sandbox.new_xledger_token()
    org = make.org()
    integration = connected_xledger(org, token)
    lines = (("mileage", "100.00"), ("meals", "20.00"))
    claims = [make.claim(org, lines=lines) for _ in range(5)]
    real_record = Export._record
    recorded = []

    def record(export, rows):
        if recorded:
            # The third call's lines reached Xledger, its readback is still on its way.
            wait_for(lambda: len(sandbox.ledger()["xledger"]["import_items"]) >= 9, timeout=10)
            raise OperationalError("the database went away")
        # From here on each request takes a while, so the third call is still in flight when
        # the database fails (whatever the machine's speed).
        sandbox.set_fault(token, "latency", seconds=0.5)
        recorded.append(rows)
        return real_record(export, rows)

    monkeypatch.setattr(Export, "_record", record)
    run = export_now(integration)

    assert run.status == "failed"
    assert items(integration) == {
        claims[0].id: "exported",
        claims[1].id: "pending",
        claims[2].id: "pending",
    }
    monkeypatch.setattr(Export, "_record", real_record)
    sandbox.clear_faults(token)
    again = export_now(integration)
    assert again.status == "succeeded", again.message
    assert again.skipped_count == 2  # found in Xledger, not sent again
    assert items(integration) == {claim.id: "exported" for claim in claims}
    assert ledger_references(sandbox, integration.id) == {
        f"LL-{integration.id}-{claim.id}": 1 for claim in claims
    }


def test_a_long_wait_ends_the_run_as_waiting_until_local_time_and_resumes_then(make, sandbox):
    token = sandbox.new_xledger_token()
    org = make.org(time_zone="Europe/Oslo")
    integration = connected_xledger(org, token)
    claims = [make.claim(org) for _ in range(2)]
    sandbox.set_fault(token, "rate_limit", retry_after=3600)
    before = utcnow()

    run = export_now(integration)

    assert (run.status, run.error_kind) == ("failed", "transient")
    until = dt.datetime.fromisoformat(run.message["waiting_until"])
    assert dt.timedelta(minutes=59) < until - before < dt.timedelta(minutes=61)
    local = until.astimezone(dt.timezone(dt.timedelta(hours=1)))  # Oslo in December
    assert f"kl. {local:%H:%M}" in run.message["nb"]
    assert f"{local:%H:%M}" in run.message["en"]
    assert "venter på Xledger" in run.message["nb"]
    assert "waiting for Xledger" in run.message["en"]
    assert "UTC" not in run.message["en"]
    retry = SyncRun.get((SyncRun.trigger == "retry") & (SyncRun.integration == integration))
    assert abs((retry.slot_at - until).total_seconds()) < 5
    # The integration is fine: it only waits.
    assert Integration.get_by_id(integration.id).status == "connected"

    sandbox.clear_faults(token)
    assert scheduler.tick(utcnow() + dt.timedelta(minutes=30)).retries == []
    assert scheduler.tick(until + dt.timedelta(minutes=1)).retries == [retry.id]
    assert final_run(retry.id).status == "succeeded"
    assert ledger_references(sandbox, integration.id) == {
        f"LL-{integration.id}-{claim.id}": 1 for claim in claims
    }


def test_the_run_page_lists_what_was_skipped_and_folds_the_ids_away(auth, client, make):
    org = make.org("Blindeforbundet", slug="nbf")
    make.member(org, "kari@example.org", "coordinator")
    integration = connected_xledger(org)
    run = SyncRun.create(
        integration=integration,
        trigger="manual",
        status="failed",
        error_kind="transient",
        finished_at=utcnow(),
        message={
            "nb": "Eksporten til Xledger stoppet: Xledger svarte ikke i tide.",
            "en": "The export to Xledger stopped: Xledger did not answer in time.",
            "code": "timeout",
            "details": {"request_id": "req-4711", "correlation_id": "corr-42"},
        },
        notes=[
            {
                "key": "projects",
                "nb": "Prosjekter ble hoppet over: nøkkelen kan ikke lese prosjekter.",
                "en": "Projects were skipped: the token may not read projects.",
                "code": "ACCESS_DENIED",
                "details": {"request_id": "req-99"},
            }
        ],
    )
    auth.login("kari@example.org")

    page = client.get(f"/o/nbf/runs/{run.id}?lang=en").get_data(as_text=True)

    notes = page.split('class="run-notes"')[1].split("</section>")[0]
    assert "What this export went without" in notes
    assert "Projects were skipped: the token may not read projects." in notes
    summary = page.split("<summary>Technical details</summary>")[1].split("</details>")[0]
    assert "<details" in page.split("<summary>Technical details</summary>")[0][-200:]
    for label, value in [
        ("Code from the accounting system", "timeout"),
        ("Request id", "req-4711"),
        ("Correlation id", "corr-42"),
        ("Code for what was skipped (projects)", "ACCESS_DENIED"),
        ("Request id (projects)", "req-99"),
    ]:
        assert f"<dt>{label}</dt><dd><code>{value}</code></dd>" in summary
    # The message itself carries none of them.
    status = page.split('class="run-status"')[1].split("</p>")[0]
    assert "req-4711" not in status and "timeout" not in status
    nb = client.get(f"/o/nbf/runs/{run.id}?lang=nb").get_data(as_text=True)
    assert "Tekniske detaljer" in nb and "<dt>Forespørsels-ID</dt>" in nb
    assert "Dette gikk eksporten videre uten" in nb
