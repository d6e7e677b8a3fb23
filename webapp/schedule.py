"""Schedule maths: when an integration's exports run.

Pure logic, no I/O: parse the schedule form, compute the next run times, describe a schedule
in words and tell the scheduler which slot is due. All instants going in and out are aware
datetimes in UTC; wall-clock kinds (daily, weekly, cron) are read in the schedule's time zone.

Daylight saving, decided once for every wall-clock kind:

- A wall-clock time that does not exist (spring forward, 02:30 on the last Sunday of March in
  Oslo) runs shifted forward by the gap: 03:30 local. Python's ``fold=0`` gives exactly this.
- A wall-clock time that happens twice (fall back) runs only at its first occurrence.
- Each matching wall-clock slot therefore runs exactly once. croniter's own DST handling runs
  the repeated hour twice and moves skipped times to the end of the gap, so croniter is used
  only to parse and expand cron fields; the iteration over local days is done here.

Every N hours counts real elapsed time in UTC from an anchor (the moment the schedule was
saved), so daylight saving never stretches or shrinks an interval.

Stored expressions (``sync_schedule.expression``):

- manual: ``{}``
- interval: ``{"hours": 6, "anchor": "2026-03-28T21:00:00+00:00"}``; without an anchor the
  slots are whole multiples of N hours since 1970-01-01T00:00Z.
- daily: ``{"time": "02:30"}``
- weekly: ``{"time": "06:00", "days": [0, 3]}`` (0 = Monday, as Python's ``weekday()``)
- cron: ``{"cron": "0 6 * * 1-5"}`` (five fields; day of week 0 = Sunday, as in cron)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from adapters.types import Text

if TYPE_CHECKING:
    from webapp.models import SyncSchedule

KINDS = ("manual", "interval", "daily", "weekly", "cron")
DEFAULT_TIME_ZONE = "Europe/Oslo"
MIN_HOURS = 1
MAX_HOURS = 168

# Keys a form may use for the days of the week, in Python's weekday() order.
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = (
    Text("mandag", "Monday"),
    Text("tirsdag", "Tuesday"),
    Text("onsdag", "Wednesday"),
    Text("torsdag", "Thursday"),
    Text("fredag", "Friday"),
    Text("lørdag", "Saturday"),
    Text("søndag", "Sunday"),
)
_DAY_ALIASES = {
    **{key: index for index, key in enumerate(DAY_KEYS)},
    **{str(index): index for index in range(7)},
    **{key: index for index, key in enumerate(("man", "tir", "ons", "tor", "fre", "lør", "søn"))},
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Longest search for a wall-clock slot: covers a cron on 29 February across a skipped leap
# year (2096 → 2104) with room to spare.
_SEARCH_DAYS = 366 * 9
_CLOCK = re.compile(r"([0-9]{1,2})[:.]([0-9]{2})")


@dataclass(frozen=True)
class Schedule:
    """When an integration exports: a kind, its settings and the time zone they are read in."""

    kind: str
    expression: dict[str, Any]
    time_zone: str = DEFAULT_TIME_ZONE

    @classmethod
    def from_model(cls, sync_schedule: SyncSchedule) -> Schedule:
        return cls(
            kind=sync_schedule.kind,
            expression=dict(sync_schedule.expression or {}),
            time_zone=sync_schedule.time_zone or DEFAULT_TIME_ZONE,
        )

    @property
    def zone(self) -> ZoneInfo:
        """The time zone to show run times in."""
        return ZoneInfo(self.time_zone)


# --- Form parsing -----------------------------------------------------------------------------

_TIME_EXAMPLE = Text(
    "Klokkeslettet må skrives som TT:MM, for eksempel 02:30.",
    "Enter the time as HH:MM, for example 02:30.",
)
_CRON_HELP = Text(
    "Et cron-uttrykk har fem felt adskilt med mellomrom: minutt, time, dag i måneden, måned "
    "og ukedag. For eksempel betyr 0 6 * * 1-5 kl. 06:00 mandag til fredag.",
    "A cron expression has five fields separated by spaces: minute, hour, day of month, month "
    "and day of week. For example, 0 6 * * 1-5 means 06:00 Monday to Friday.",
)


@dataclass(frozen=True)
class _CronField:
    name: Text
    allowed: Text
    pattern: re.Pattern[str]


_NUMBERS = re.compile(r"[0-9*,/-]+")
_NAMES = re.compile(r"[0-9a-z*,/-]+")
_CRON_FIELDS = (
    _CronField(Text("minuttfeltet", "the minute field"), Text("0 til 59", "0 to 59"), _NUMBERS),
    _CronField(Text("timefeltet", "the hour field"), Text("0 til 23", "0 to 23"), _NUMBERS),
    _CronField(
        Text("feltet for dag i måneden", "the day-of-month field"),
        Text("1 til 31", "1 to 31"),
        _NUMBERS,
    ),
    _CronField(
        Text("månedsfeltet", "the month field"),
        Text("1 til 12 eller jan til dec", "1 to 12 or jan to dec"),
        _NAMES,
    ),
    _CronField(
        Text("ukedagsfeltet", "the day-of-week field"),
        Text("0 til 6 (0 er søndag) eller sun til sat", "0 to 6 (0 is Sunday) or sun to sat"),
        _NAMES,
    ),
)


def parse_form(
    form: Mapping[str, Any], time_zone: str, *, anchor: datetime | None = None
) -> tuple[Schedule | None, dict[str, Text]]:
    """Read the schedule form; return the schedule, or errors keyed by form field name.

    ``anchor`` is the instant an interval schedule counts from, normally the moment of saving
    (pass the same instant to the live preview so it shows what will be saved).
    """
    errors: dict[str, Text] = {}
    if _zone_or_none(time_zone) is None:
        errors["time_zone"] = Text(
            f"Tidssonen «{time_zone}» er ukjent. Velg en tidssone som Europe/Oslo i "
            "organisasjonens innstillinger.",
            f"The time zone “{time_zone}” is unknown. Choose a time zone such as Europe/Oslo "
            "in the organisation's settings.",
        )
    kind = str(form.get("kind") or "").strip()
    expression: dict[str, Any] = {}
    if kind == "interval":
        hours = _form_hours(str(form.get("hours") or ""), errors)
        expression = {"hours": hours}
        if anchor is not None:
            # Whole minutes: the scheduler ticks once a minute.
            start = _utc(anchor, "anchor").replace(second=0, microsecond=0)
            expression["anchor"] = start.isoformat()
    elif kind in ("daily", "weekly"):
        expression = {"time": _form_time(str(form.get("time") or ""), errors)}
        if kind == "weekly":
            expression["days"] = _form_days(_form_list(form, "days"), errors)
    elif kind == "cron":
        expression = {"cron": _form_cron(str(form.get("cron") or ""), errors)}
    elif kind != "manual":
        errors["kind"] = _unknown_kind(kind)
    if errors:
        return None, errors
    return Schedule(kind, expression, time_zone), {}


def _unknown_kind(kind: str) -> Text:
    choose = Text(
        "Velg hvor ofte eksporten skal kjøre: bare manuelt, med noen timers mellomrom, daglig, "
        "ukentlig eller etter et cron-uttrykk.",
        "Choose how often the export runs: manually only, every few hours, daily, weekly or by "
        "a cron expression.",
    )
    if not kind:
        return choose
    return Text(
        f"Ukjent type tidsplan «{kind}». {choose.nb}",
        f"Unknown schedule type “{kind}”. {choose.en}",
    )


def _form_hours(raw: str, errors: dict[str, Text]) -> int:
    value = raw.strip()
    if not value:
        errors["hours"] = Text(
            f"Fyll inn antall timer mellom eksportene, et helt tall fra {MIN_HOURS} til "
            f"{MAX_HOURS}.",
            f"Enter the number of hours between exports, a whole number from {MIN_HOURS} to "
            f"{MAX_HOURS}.",
        )
    elif not re.fullmatch(r"[0-9]+", value):
        errors["hours"] = Text(
            f"Antall timer må være et helt tall, for eksempel 6. «{value}» er ikke et helt tall.",
            f"The number of hours must be a whole number, for example 6. “{value}” is not.",
        )
    elif not MIN_HOURS <= int(value) <= MAX_HOURS:
        errors["hours"] = Text(
            f"Antall timer må være fra {MIN_HOURS} til {MAX_HOURS} (én uke), men er {value}. "
            "Skriv et tall i dette området.",
            f"The number of hours must be from {MIN_HOURS} to {MAX_HOURS} (one week), not "
            f"{value}. Enter a number in that range.",
        )
    else:
        return int(value)
    return 0


def _form_time(raw: str, errors: dict[str, Text]) -> str:
    value = raw.strip()
    match = _CLOCK.fullmatch(value)
    if not value:
        errors["time"] = Text(
            f"Fyll inn klokkeslettet eksporten skal kjøre. {_TIME_EXAMPLE.nb}",
            f"Enter the time the export runs. {_TIME_EXAMPLE.en}",
        )
    elif match is None:
        errors["time"] = Text(
            f"Klokkeslettet «{value}» kan ikke leses. {_TIME_EXAMPLE.nb}",
            f"The time “{value}” cannot be read. {_TIME_EXAMPLE.en}",
        )
    elif int(match[1]) > 23 or int(match[2]) > 59:
        errors["time"] = Text(
            f"Klokkeslettet «{value}» finnes ikke: timene går fra 00 til 23 og minuttene fra 00 "
            f"til 59. {_TIME_EXAMPLE.nb}",
            f"There is no time “{value}”: hours run from 00 to 23 and minutes from 00 to 59. "
            f"{_TIME_EXAMPLE.en}",
        )
    else:
        return f"{int(match[1]):02d}:{match[2]}"
    return ""


def _form_list(form: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(form, "getlist", None)
    raw = getlist(name) if callable(getlist) else form.get(name) or []
    items = [raw] if isinstance(raw, str) else list(raw)
    # Accept "mon,thu" in one value as well as one value per checkbox.
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


def _form_days(values: Sequence[str], errors: dict[str, Text]) -> list[int]:
    unknown = [value for value in values if value.lower() not in _DAY_ALIASES]
    if unknown:
        errors["days"] = Text(
            f"Ukjent ukedag «{unknown[0]}». Velg dagene eksporten skal kjøre fra listen.",
            f"Unknown day “{unknown[0]}”. Choose the days the export runs from the list.",
        )
    elif not values:
        errors["days"] = Text(
            "Velg minst én ukedag eksporten skal kjøre.",
            "Choose at least one day of the week for the export.",
        )
    return sorted({_DAY_ALIASES[value.lower()] for value in values if not unknown})


def _form_cron(raw: str, errors: dict[str, Text]) -> str:
    fields = raw.split()
    expression = " ".join(fields)
    if not fields:
        errors["cron"] = Text(
            f"Fyll inn et cron-uttrykk. {_CRON_HELP.nb}",
            f"Enter a cron expression. {_CRON_HELP.en}",
        )
    elif len(fields) != 5:
        errors["cron"] = Text(
            f"Cron-uttrykket «{expression}» har {len(fields)} felt, men skal ha fem. "
            f"{_CRON_HELP.nb}",
            f"The cron expression “{expression}” has {len(fields)} fields, not five. "
            f"{_CRON_HELP.en}",
        )
    elif (bad := _bad_cron_field(fields)) is not None:
        spec, value = _CRON_FIELDS[bad], fields[bad]
        errors["cron"] = Text(
            f"I cron-uttrykket er {spec.name.nb} «{value}» ugyldig. Bruk tall fra "
            f"{spec.allowed.nb}, eventuelt med *, komma, bindestrek og /, for eksempel "
            "0 6 * * 1-5.",
            f"In the cron expression, {spec.name.en} “{value}” is not valid. Use numbers from "
            f"{spec.allowed.en}, optionally with *, commas, hyphens and /, for example "
            "0 6 * * 1-5.",
        )
    elif (
        _next_wall_clock(_WallClock(ZoneInfo("UTC"), _Cron.parse(expression).times_on), _EPOCH)
        is None
    ):
        errors["cron"] = Text(
            f"Cron-uttrykket «{expression}» passer ikke med noen dato som finnes, for eksempel "
            "31. februar. Sjekk dag i måneden og måned.",
            f"The cron expression “{expression}” matches no date that exists, such as "
            "31 February. Check the day of month and the month.",
        )
    return expression


def _bad_cron_field(fields: Sequence[str]) -> int | None:
    """The index of the first field that is not plain five-field cron, or None."""
    for index, (spec, value) in enumerate(zip(_CRON_FIELDS, fields, strict=True)):
        probe = ["*"] * 5
        probe[index] = value
        if spec.pattern.fullmatch(value.lower()) is None:
            return index
        try:
            parsed = croniter(" ".join(probe))
        except (CroniterError, ValueError, KeyError, IndexError):
            return index
        # Extensions croniter accepts (L, #, W) are not offered to coordinators.
        if parsed.nth_weekday_of_month or any(
            not isinstance(item, int) and item != "*" for item in parsed.expanded[index]
        ):
            return index
    return None


# --- Run times --------------------------------------------------------------------------------


def next_run(schedule: Schedule, after: datetime) -> datetime | None:
    """The first run strictly after ``after`` (aware), in UTC; None if the schedule never runs."""
    after = _utc(after, "after")
    if schedule.kind == "manual":
        return None
    if schedule.kind == "interval":
        anchor, step = _interval(schedule)
        return anchor + ((after - anchor) // step + 1) * step
    return _next_wall_clock(_wall_clock(schedule), after)


def next_runs(schedule: Schedule, after: datetime, n: int = 3) -> list[datetime]:
    """The next ``n`` runs strictly after ``after``, in UTC, earliest first."""
    runs: list[datetime] = []
    current = after
    while len(runs) < n and (run := next_run(schedule, current)) is not None:
        runs.append(run)
        current = run
    return runs


def previous_run(schedule: Schedule, at: datetime) -> datetime | None:
    """The latest run at or before ``at`` (aware), in UTC; None if there is none."""
    at = _utc(at, "at")
    if schedule.kind == "manual":
        return None
    if schedule.kind == "interval":
        anchor, step = _interval(schedule)
        return anchor + ((at - anchor) // step) * step
    return _previous_wall_clock(_wall_clock(schedule), at)


def due_slot(schedule: Schedule, now: datetime, last_slot_at: datetime | None) -> datetime | None:
    """The slot the scheduler should run now, or None.

    That is the latest slot at or before ``now`` that is later than ``last_slot_at``. Slots
    missed while the scheduler was down are not run one by one: only the latest is returned.
    With ``last_slot_at`` None every past slot counts, so set it to the moment of saving when
    a schedule is created or changed, or the latest past slot runs at once.
    """
    slot = previous_run(schedule, now)
    if slot is None or (last_slot_at is not None and slot <= _utc(last_slot_at, "last_slot_at")):
        return None
    return slot


def _interval(schedule: Schedule) -> tuple[datetime, timedelta]:
    """The anchor and step of an interval schedule: its slots are anchor + k·step, any k."""
    hours = schedule.expression.get("hours")
    if isinstance(hours, bool) or not isinstance(hours, int) or not MIN_HOURS <= hours <= MAX_HOURS:
        raise ValueError(f"interval schedule needs hours {MIN_HOURS}–{MAX_HOURS}, got {hours!r}")
    raw = schedule.expression.get("anchor")
    anchor = _utc(datetime.fromisoformat(raw), "anchor") if raw else _EPOCH
    return anchor, timedelta(hours=hours)


@dataclass(frozen=True)
class _WallClock:
    """A daily, weekly or cron schedule: which local times run on a given local date."""

    zone: ZoneInfo
    times_on: Callable[[date], Sequence[time]]

    def instants_on(self, day: date) -> list[datetime]:
        # fold=0: a time in the spring gap is read with the offset before the change (so it
        # runs the length of the gap later), and a repeated autumn time means its first
        # occurrence.
        return [
            datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC) for at in self.times_on(day)
        ]


def _wall_clock(schedule: Schedule) -> _WallClock:
    expression = schedule.expression
    if schedule.kind == "daily":
        at = (_stored_time(expression),)
        return _WallClock(schedule.zone, lambda day: at)
    if schedule.kind == "weekly":
        at = (_stored_time(expression),)
        days = _stored_days(expression)
        return _WallClock(schedule.zone, lambda day: at if day.weekday() in days else ())
    if schedule.kind == "cron":
        return _WallClock(schedule.zone, _Cron.parse(str(expression.get("cron") or "")).times_on)
    raise ValueError(f"unknown schedule kind {schedule.kind!r}")


def _next_wall_clock(clock: _WallClock, after: datetime) -> datetime | None:
    """The earliest slot after ``after``, searching local days forward.

    A slot shifted by a spring gap can overtake later wall-clock times, so instants are not
    in wall-clock order. But an offset change is at most a day, so no slot two days after the
    first day with a candidate can be earlier: that day and the next are enough. The search
    starts a day early for the same reason.
    """
    start = after.astimezone(clock.zone).date() - timedelta(days=1)
    best: datetime | None = None
    for day in _days(start, 1):
        candidates = [instant for instant in clock.instants_on(day) if instant > after]
        if best is not None:
            return min([best, *candidates])
        if candidates:
            best = min(candidates)
    return best


def _previous_wall_clock(clock: _WallClock, at: datetime) -> datetime | None:
    """The latest slot at or before ``at``, searching local days backward (as above)."""
    start = at.astimezone(clock.zone).date() + timedelta(days=1)
    best: datetime | None = None
    for day in _days(start, -1):
        candidates = [instant for instant in clock.instants_on(day) if instant <= at]
        if best is not None:
            return max([best, *candidates])
        if candidates:
            best = max(candidates)
    return best


def _days(start: date, step: int) -> Iterator[date]:
    for offset in range(_SEARCH_DAYS):
        yield start + timedelta(days=offset * step)


@dataclass(frozen=True)
class _Cron:
    """A five-field cron expression expanded by croniter, matched against local dates."""

    times: tuple[time, ...]
    days: frozenset[int] | None
    months: frozenset[int] | None
    weekdays: frozenset[int] | None  # 0 = Sunday, as in cron

    @staticmethod
    @lru_cache(maxsize=256)  # croniter's parsing costs more than the search itself
    def parse(expression: str) -> _Cron:
        fields = expression.split()
        if len(fields) != 5 or _bad_cron_field(fields) is not None:
            raise ValueError(f"not a five-field cron expression: {expression!r}")
        minutes, hours, days, months, weekdays = croniter(" ".join(fields)).expanded

        def restricted(values: list[Any]) -> frozenset[int] | None:
            return None if values == ["*"] else frozenset(int(value) for value in values)

        return _Cron(
            times=tuple(
                time(hour, minute)
                for hour in (range(24) if hours == ["*"] else sorted(hours))
                for minute in (range(60) if minutes == ["*"] else sorted(minutes))
            ),
            days=restricted(days),
            months=restricted(months),
            weekdays=restricted(weekdays),
        )

    def times_on(self, day: date) -> tuple[time, ...]:
        if self.months is not None and day.month not in self.months:
            return ()
        in_days = self.days is None or day.day in self.days
        in_weekdays = self.weekdays is None or (day.weekday() + 1) % 7 in self.weekdays
        # As in cron: with both day fields restricted, either one matching is enough.
        if self.days is not None and self.weekdays is not None:
            return self.times if in_days or in_weekdays else ()
        return self.times if in_days and in_weekdays else ()


def _stored_time(expression: Mapping[str, Any]) -> time:
    match = _CLOCK.fullmatch(str(expression.get("time") or ""))
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"schedule needs a time HH:MM, got {expression.get('time')!r}")
    return time(int(match[1]), int(match[2]))


def _stored_days(expression: Mapping[str, Any]) -> frozenset[int]:
    days = frozenset(expression.get("days") or ())
    if not days or not days <= set(range(7)):
        raise ValueError(f"weekly schedule needs days 0–6, got {expression.get('days')!r}")
    return days


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got {value!r}")
    return value.astimezone(UTC)


def _zone_or_none(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        return None


# --- Words ------------------------------------------------------------------------------------


def describe(schedule: Schedule, locale: str | None) -> str:
    """The schedule in words for a coordinator, in Norwegian Bokmål or English."""
    return description(schedule).get(locale)


def description(schedule: Schedule) -> Text:
    """The schedule in words, in both languages."""
    expression = schedule.expression
    if schedule.kind == "manual":
        return Text("Bare manuelt", "Manual only")
    if schedule.kind == "interval":
        hours = _interval(schedule)[1] // timedelta(hours=1)
        if hours == 1:
            return Text("Hver time", "Every hour")
        return Text(f"Hver {hours}. time", f"Every {hours} hours")
    if schedule.kind == "cron":
        cron = " ".join(str(expression.get("cron") or "").split())
        return Text(f"Cron: {cron}", f"Cron: {cron}")
    if schedule.kind not in ("daily", "weekly"):
        raise ValueError(f"unknown schedule kind {schedule.kind!r}")
    at = f"{_stored_time(expression):%H:%M}"
    days = sorted(_stored_days(expression)) if schedule.kind == "weekly" else list(range(7))
    if len(days) == 7:
        return Text(f"Hver dag kl. {at}", f"Every day at {at}")
    if days == [0, 1, 2, 3, 4]:
        return Text(f"Mandag til fredag kl. {at}", f"Monday to Friday at {at}")
    names = [DAY_NAMES[day] for day in days]
    return Text(
        f"Hver {_join([name.nb for name in names], 'og')} kl. {at}",
        f"Every {_join([name.en for name in names], 'and')} at {at}",
    )


def _join(words: Sequence[str], conjunction: str) -> str:
    if len(words) == 1:
        return words[0]
    return f"{', '.join(words[:-1])} {conjunction} {words[-1]}"
