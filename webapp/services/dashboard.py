"""What the dashboard shows for each integration: state in words, times, runs, chart.

Plain data for the templates, read in a handful of queries for the whole organisation. The
state a coordinator sees is derived from the integration's status and its latest finished run:

- `draft`: not set up yet; `paused`: exports stopped on purpose;
- `needs_attention`: the accounting system rejected the credentials (`needs_reauth`), or the
  latest run exported only some claims;
- `failing`: the latest run failed (or the integration is `degraded`);
- `connected`: everything else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from peewee import fn

from adapters.types import Text
from webapp.models import (
    RUN_FINAL,
    ConnectionIssue,
    Integration,
    Organization,
    SyncRun,
    SyncSchedule,
)
from webapp.schedule import Schedule, describe
from webapp.services.exports.settings import type_name
from webapp.services.health import expiry as secret_expiry
from webapp.services.health import issues as connection_issues

CHART_RUNS = 30
# With more integrations than this, the dashboard lists them compactly, without charts.
COMPACT_AFTER = 6
# What a compact entry's state needs: the latest final run, the run under way and a retry
# waiting for its time are among an integration's latest few runs (at most one of each is
# not final at a time).
STATE_RUNS = 8
BAR_WIDTH = 8
BAR_GAP = 2
CHART_HEIGHT = 40
# Bar heights differ by outcome so the chart never relies on colour alone.
BAR_HEIGHTS = {"succeeded": 40, "partial": 26, "failed": 12, "running": 40, "queued": 40}


@dataclass
class Bar:
    run_id: int
    x: int
    y: int
    height: int
    status: str  # how the bar is drawn: a queued run is drawn as running
    run_status: str
    at: dt.datetime | None  # when the run started (or was created)


@dataclass
class Chart:
    bars: list[Bar]
    counts: dict[str, int]
    width: int = CHART_RUNS * (BAR_WIDTH + BAR_GAP)
    height: int = CHART_HEIGHT

    @property
    def total(self) -> int:
        return len(self.bars)

    @property
    def paths(self) -> list[tuple[str, str]]:
        """(status, SVG path data) with every bar of that status: the dashboard draws a
        card's chart in a few short elements instead of one element per run."""
        shapes: dict[str, list[str]] = {}
        for bar in self.bars:
            shapes.setdefault(bar.status, []).append(
                f"M{bar.x} {bar.y}h{BAR_WIDTH}v{bar.height}h-{BAR_WIDTH}z"
            )
        return [(status, "".join(parts)) for status, parts in shapes.items()]


class RunPoint(NamedTuple):
    """What a card's chart and state need of a run, read as plain tuples (the chart on a
    card says when each run was only in its summary, so no times are read)."""

    id: int
    integration_id: int
    status: str
    job_id: str | None
    started_at: dt.datetime | None = None
    created_at: dt.datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in RUN_FINAL


@dataclass
class Card:
    integration: Integration
    type_name: Text
    state: str
    state_class: str
    schedule: SyncSchedule | None
    chart: Chart | None = None
    # The run under way (queued or running, with a job), and a retry waiting for its time.
    active_run: SyncRun | None = None
    waiting_retry: SyncRun | None = None
    last_run: SyncRun | None = None
    # Connection health: open issues (oldest first) and the secret's end date, if entered.
    issues: list[ConnectionIssue] = field(default_factory=list)
    expiry: secret_expiry.Expiry | None = None

    @property
    def attention(self) -> bool:
        """Anything a coordinator should look at: its state, an open problem, an expiring
        secret."""
        return (
            self.state != "connected"
            or bool(self.issues)
            or bool(self.expiry is not None and self.expiry.level)
        )

    @property
    def stopped(self) -> dict | None:
        """Why Ledgerlink stopped the schedule itself (seven days of rejected sign-ins)."""
        return self.schedule.paused_reason if self.schedule is not None else None

    @property
    def needs_reauth(self) -> bool:
        return self.integration.status == "needs_reauth"

    @property
    def scheduled(self) -> bool:
        return self.schedule is not None and self.schedule.kind != "manual"

    @property
    def skipped(self) -> bool:
        """Scheduled exports are passed over while the integration cannot export."""
        return self.scheduled and self.integration.status in ("needs_reauth", "paused", "draft")

    @property
    def can_export(self) -> bool:
        return self.integration.status in ("connected", "degraded")

    def schedule_text(self, locale: str) -> str:
        if self.schedule is None:
            return describe(Schedule("manual", {}), locale)
        try:
            return describe(Schedule.from_model(self.schedule), locale)
        except ValueError:
            return ""


def state_of(
    integration: Integration,
    last_run: SyncRun | None,
    expiry: secret_expiry.Expiry | None = None,
) -> tuple[str, str]:
    """(state, CSS modifier) as the coordinator should read it."""
    status = integration.status
    if status in ("draft", "paused", "archived"):
        return status, status
    if status == "needs_reauth" or (expiry is not None and expiry.expired):
        # An expired secret shows before any call fails with it.
        return "needs_attention", "needs_reauth"
    # A run refused for the credentials no longer counts once new ones are in use.
    failed = (
        last_run is not None
        and last_run.status == "failed"
        and last_run.error_kind not in ("auth", "permission")
    )
    if status == "degraded" or failed:
        return "failing", "failing"
    if last_run is not None and last_run.status == "partial":
        return "needs_attention", "degraded"
    return "connected", "connected"


def cards(organization: Organization) -> list[Card]:
    """One card per integration of the organisation, oldest integration first; without
    charts when the dashboard lists them compactly (see `is_compact`)."""
    integrations = list(
        Integration.select()
        .where(Integration.organization == organization.id)
        .order_by(Integration.created_at, Integration.id)
    )
    for integration in integrations:
        integration.organization = organization  # known: not read again for its time zone
    active = [i for i in integrations if i.status != "archived"]
    return build_cards(integrations, charts=not is_compact(len(active)))


def is_compact(active_integrations: int) -> bool:
    return active_integrations > COMPACT_AFTER


def card(integration: Integration) -> Card:
    return build_cards([integration])[0]


def build_cards(integrations: list[Integration], charts: bool = True) -> list[Card]:
    ids = [i.id for i in integrations]
    if not ids:
        return []
    schedules = {
        s.integration_id: s for s in SyncSchedule.select().where(SyncSchedule.integration.in_(ids))
    }
    points = _recent_points(ids, CHART_RUNS if charts else STATE_RUNS)
    runs = _runs_shown(points)
    open_issues = connection_issues.open_for(ids)
    zone = integrations[0].organization.time_zone
    expiries = secret_expiry.current(integrations, zone)
    out = []
    for integration in integrations:
        mine = points.get(integration.id, [])
        last, active, waiting = (runs.get(point.id) if point else None for point in _shown(mine))
        state, css = state_of(integration, last, expiries.get(integration.id))
        out.append(
            Card(
                integration=integration,
                type_name=type_name(integration),
                state=state,
                state_class=css,
                schedule=schedules.get(integration.id),
                chart=chart(mine) if charts else None,
                active_run=active,
                waiting_retry=waiting,
                last_run=last,
                issues=open_issues.get(integration.id, []),
                expiry=expiries.get(integration.id),
            )
        )
    return out


def _recent_points(ids: list[int], depth: int) -> dict[int, list[RunPoint]]:
    """The latest `depth` runs of each integration, newest first, in one query of the few
    columns the cards need (not the runs' messages and notes).

    Each integration's oldest wanted run id is found first (`depth` steps down the index on
    `(integration_id, id)`), then only the runs from there on are read: the cost follows the
    number of integrations, not the number of runs they ever had."""
    later = SyncRun.alias("later")
    oldest_shown = (
        later.select(later.id)
        .where(later.integration == Integration.id)
        .order_by(later.id.desc())
        .limit(1)
        .offset(depth - 1)
    )
    floors = (
        Integration.select(Integration.id, fn.COALESCE(oldest_shown, 0).alias("floor"))
        .where(Integration.id.in_(ids))
        .alias("floors")
    )
    query = (
        SyncRun.select(SyncRun.id, SyncRun.integration, SyncRun.status, SyncRun.job_id)
        .join(
            floors,
            on=((SyncRun.integration == floors.c.id) & (SyncRun.id >= floors.c.floor)),
        )
        .order_by(SyncRun.id.desc())
    )
    out: dict[int, list[RunPoint]] = {}
    for row in query.tuples():
        point = RunPoint(*row)
        out.setdefault(point.integration_id, []).append(point)
    return out


def _shown(points: list[RunPoint]) -> tuple[RunPoint | None, RunPoint | None, RunPoint | None]:
    """The latest final run, the run under way (with a job) and a retry waiting for its time."""
    last = next((p for p in points if p.is_final), None)
    active = next((p for p in points if not p.is_final and p.job_id is not None), None)
    waiting = next((p for p in points if not p.is_final and p.job_id is None), None)
    return last, active, waiting


def _runs_shown(points: dict[int, list[RunPoint]]) -> dict[int, SyncRun]:
    """The whole rows of the runs a card shows (status, message), in one query."""
    wanted = [p.id for mine in points.values() for p in _shown(mine) if p is not None]
    if not wanted:
        return {}
    return {run.id: run for run in SyncRun.select().where(SyncRun.id.in_(wanted))}


def chart(runs_newest_first: Sequence[SyncRun | RunPoint]) -> Chart:
    """Bars for the latest runs, oldest on the left, newest on the right."""
    runs = list(reversed(runs_newest_first[:CHART_RUNS]))
    counts = {"succeeded": 0, "partial": 0, "failed": 0, "running": 0}
    bars = []
    offset = (CHART_RUNS - len(runs)) * (BAR_WIDTH + BAR_GAP)
    for n, run in enumerate(runs):
        status = run.status if run.status in BAR_HEIGHTS else "queued"
        counts["running" if status in ("running", "queued") else status] += 1
        height = BAR_HEIGHTS[status]
        bars.append(
            Bar(
                run_id=run.id,
                x=offset + n * (BAR_WIDTH + BAR_GAP),
                y=CHART_HEIGHT - height,
                height=height,
                status="running" if status == "queued" else status,
                run_status=run.status,
                at=run.started_at or run.created_at,
            )
        )
    return Chart(bars=bars, counts=counts)
