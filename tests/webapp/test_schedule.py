"""Schedule maths: parsing the form, run times across daylight saving, words, due slots.

In Oslo 2026, summer time starts on 29 March (02:00 CET → 03:00 CEST, 01:00Z) and ends on
25 October (03:00 CEST → 02:00 CET, 01:00Z). Expected instants are written out in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from webapp.models import SyncSchedule
from webapp.schedule import (
    Schedule,
    describe,
    due_slot,
    next_run,
    next_runs,
    parse_form,
    previous_run,
)

OSLO = ZoneInfo("Europe/Oslo")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def daily(at: str, time_zone: str = "Europe/Oslo") -> Schedule:
    return Schedule("daily", {"time": at}, time_zone)


# --- Daily across daylight saving -------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "after", "expected"),
    [
        # Spring: 02:30 does not exist on 29 March, so it runs at 03:30 CEST (01:30Z).
        ("02:30", utc(2026, 3, 27, 12), [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30),
                                         utc(2026, 3, 30, 0, 30)]),
        # Autumn: 02:30 happens twice on 25 October; only the first (CEST, 00:30Z) runs.
        ("02:30", utc(2026, 10, 23, 12), [utc(2026, 10, 24, 0, 30), utc(2026, 10, 25, 0, 30),
                                          utc(2026, 10, 26, 1, 30)]),
        ("03:00", utc(2026, 3, 27, 12), [utc(2026, 3, 28, 2), utc(2026, 3, 29, 1),
                                         utc(2026, 3, 30, 1)]),
        ("03:00", utc(2026, 10, 23, 12), [utc(2026, 10, 24, 1), utc(2026, 10, 25, 2),
                                          utc(2026, 10, 26, 2)]),
    ],
)  # fmt: skip
def test_daily_runs_once_a_day_across_daylight_saving(at, after, expected):
    assert next_runs(daily(at), after) == expected


def test_daily_spring_gap_runs_shifted_forward_by_the_gap():
    run = next_run(daily("02:30"), utc(2026, 3, 28, 12))
    assert run is not None
    assert run.astimezone(OSLO).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


def test_daily_autumn_repeated_time_does_not_run_again_in_the_second_hour():
    first = utc(2026, 10, 25, 0, 30)  # 02:30 CEST
    # After the first 02:30, the next run is the next day, not 02:30 CET (01:30Z) again.
    assert next_run(daily("02:30"), first) == utc(2026, 10, 26, 1, 30)
    assert next_run(daily("02:30"), utc(2026, 10, 25, 1, 10)) == utc(2026, 10, 26, 1, 30)


@pytest.mark.parametrize("at", ["00:00", "01:59", "02:00", "02:30", "02:59", "03:00", "23:59"])
@pytest.mark.parametrize("start", [utc(2026, 3, 20), utc(2026, 10, 18)])
def test_daily_has_exactly_one_run_per_local_date(at, start):
    runs = next_runs(daily(at), start, n=14)
    dates = [run.astimezone(OSLO).date() for run in runs]
    assert dates == [dates[0] + timedelta(days=i) for i in range(14)]


def test_next_run_is_strictly_after_and_in_utc():
    slot = utc(2026, 6, 1, 0, 30)  # 02:30 CEST
    assert next_run(daily("02:30"), slot) == utc(2026, 6, 2, 0, 30)
    run = next_run(daily("02:30"), slot - timedelta(microseconds=1))
    assert run == slot
    assert run.tzinfo is UTC
    # An aware instant in another zone means the same moment.
    assert next_run(daily("02:30"), slot.astimezone(OSLO) - timedelta(seconds=1)) == slot


def test_naive_instants_are_refused():
    with pytest.raises(ValueError, match="aware"):
        next_run(daily("02:30"), datetime(2026, 6, 1))


def test_schedule_in_another_time_zone():
    runs = next_runs(daily("09:00", "America/New_York"), utc(2026, 3, 7), n=2)
    # New York moves to EDT on 8 March 2026.
    assert runs == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13)]


# --- Weekly -----------------------------------------------------------------------------------


def test_weekly_on_chosen_days_across_spring_change():
    wednesday_and_sunday = Schedule("weekly", {"time": "02:30", "days": [2, 6]})
    assert next_runs(wednesday_and_sunday, utc(2026, 3, 20), n=4) == [
        utc(2026, 3, 22, 1, 30),  # Sunday, CET
        utc(2026, 3, 25, 1, 30),  # Wednesday, CET
        utc(2026, 3, 29, 1, 30),  # Sunday of the change: 03:30 CEST
        utc(2026, 4, 1, 0, 30),  # Wednesday, CEST
    ]


def test_weekly_on_chosen_days_across_autumn_change():
    wednesday_and_sunday = Schedule("weekly", {"time": "02:30", "days": [2, 6]})
    assert next_runs(wednesday_and_sunday, utc(2026, 10, 20), n=3) == [
        utc(2026, 10, 21, 0, 30),  # Wednesday, CEST
        utc(2026, 10, 25, 0, 30),  # Sunday of the change: first 02:30 only
        utc(2026, 10, 28, 1, 30),  # Wednesday, CET
    ]


# --- Cron -------------------------------------------------------------------------------------


def cron(expression: str, time_zone: str = "Europe/Oslo") -> Schedule:
    return Schedule("cron", {"cron": expression}, time_zone)


@pytest.mark.parametrize("start", [utc(2026, 3, 20), utc(2026, 10, 18)])
def test_cron_daily_runs_once_a_day_like_the_daily_kind(start):
    runs = next_runs(cron("30 2 * * *"), start, n=14)
    assert runs == next_runs(daily("02:30"), start, n=14)
    assert utc(2026, 3, 29, 1, 30) in runs or utc(2026, 10, 25, 0, 30) in runs
    assert utc(2026, 10, 25, 1, 30) not in runs


def test_cron_every_six_hours_across_spring_change():
    assert next_runs(cron("0 */6 * * *"), utc(2026, 3, 28, 12), n=4) == [
        utc(2026, 3, 28, 17),  # 18:00 CET
        utc(2026, 3, 28, 23),  # 00:00 CET
        utc(2026, 3, 29, 4),  # 06:00 CEST: five real hours later
        utc(2026, 3, 29, 10),  # 12:00 CEST
    ]


def test_cron_every_six_hours_across_autumn_change():
    assert next_runs(cron("0 */6 * * *"), utc(2026, 10, 24, 12), n=4) == [
        utc(2026, 10, 24, 16),  # 18:00 CEST
        utc(2026, 10, 24, 22),  # 00:00 CEST
        utc(2026, 10, 25, 5),  # 06:00 CET: seven real hours later
        utc(2026, 10, 25, 11),  # 12:00 CET
    ]


def test_cron_quarter_hours_through_the_spring_gap_run_once_each():
    # 02:00–02:45 do not exist; shifted by the gap they coincide with 03:00–03:45 CEST.
    assert next_runs(cron("*/15 * * * *"), utc(2026, 3, 29, 0, 40), n=6) == [
        utc(2026, 3, 29, 0, 45),  # 01:45 CET
        utc(2026, 3, 29, 1),  # 03:00 CEST
        utc(2026, 3, 29, 1, 15),
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 1, 45),
        utc(2026, 3, 29, 2),  # 04:00 CEST
    ]


def test_cron_quarter_hours_through_the_repeated_hour_run_once_each():
    assert next_runs(cron("*/15 * * * *"), utc(2026, 10, 24, 23, 40), n=6) == [
        utc(2026, 10, 24, 23, 45),  # 01:45 CEST
        utc(2026, 10, 25, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0, 15),
        utc(2026, 10, 25, 0, 30),
        utc(2026, 10, 25, 0, 45),  # 02:45 CEST; 02:00–02:45 CET are not run again
        utc(2026, 10, 25, 2),  # 03:00 CET
    ]


def test_cron_weekdays_and_day_fields():
    # 06:00 Monday to Friday; 2026-03-27 is a Friday.
    assert next_runs(cron("0 6 * * 1-5"), utc(2026, 3, 27, 6), n=2) == [
        utc(2026, 3, 30, 4),
        utc(2026, 3, 31, 4),
    ]
    # Day of month and day of week both given: either matches, as in cron.
    assert next_runs(cron("0 0 1 * 1"), utc(2026, 6, 25), n=3) == [
        utc(2026, 6, 28, 22),  # Monday 29 June
        utc(2026, 6, 30, 22),  # 1 July
        utc(2026, 7, 5, 22),  # Monday 6 July
    ]


def test_cron_on_29_february_waits_for_a_leap_year():
    assert next_run(cron("0 12 29 2 *", "UTC"), utc(2024, 3, 1)) == utc(2028, 2, 29, 12)


def test_stored_cron_that_never_matches_has_no_next_run():
    assert next_run(cron("0 0 31 2 *"), utc(2026, 1, 1)) is None
    assert previous_run(cron("0 0 31 2 *"), utc(2026, 1, 1)) is None


# --- Every N hours ----------------------------------------------------------------------------


def interval(hours: int, anchor: datetime) -> Schedule:
    return Schedule("interval", {"hours": hours, "anchor": anchor.isoformat()})


def test_interval_counts_real_hours_across_spring_change():
    anchor = utc(2026, 3, 28, 21)  # 22:00 CET, the moment of saving
    runs = next_runs(interval(6, anchor), anchor, n=3)
    assert runs == [utc(2026, 3, 29, 3), utc(2026, 3, 29, 9), utc(2026, 3, 29, 15)]
    # On the wall clock the slots moved from 22:00-based to 05:00, 11:00, 17:00 CEST.
    assert [run.astimezone(OSLO).hour for run in runs] == [5, 11, 17]


def test_interval_of_a_day_keeps_24_real_hours_across_autumn_change():
    anchor = utc(2026, 10, 23, 22)  # midnight CEST
    runs = next_runs(interval(24, anchor), anchor, n=3)
    assert [b - a for a, b in zip([anchor, *runs], runs, strict=False)] == [timedelta(hours=24)] * 3
    assert [run.astimezone(OSLO).hour for run in runs] == [0, 23, 23]


def test_interval_is_strictly_after_and_works_before_the_anchor():
    anchor = utc(2026, 5, 1, 12)
    assert next_run(interval(6, anchor), anchor) == utc(2026, 5, 1, 18)
    assert next_run(interval(6, anchor), anchor - timedelta(seconds=1)) == anchor
    assert next_run(interval(6, anchor), utc(2026, 5, 1, 19)) == utc(2026, 5, 2)


def test_interval_without_anchor_counts_from_the_unix_epoch():
    schedule = Schedule("interval", {"hours": 5})
    assert next_run(schedule, utc(1970, 1, 1, 7)) == utc(1970, 1, 1, 10)


def test_manual_never_runs():
    manual = Schedule("manual", {})
    assert next_run(manual, utc(2026, 1, 1)) is None
    assert next_runs(manual, utc(2026, 1, 1)) == []


# --- The slot the scheduler runs --------------------------------------------------------------


def test_due_slot_runs_only_the_latest_missed_slot():
    # The scheduler was down from 25 to 28 March.
    assert due_slot(daily("02:30"), utc(2026, 3, 28, 12), utc(2026, 3, 25, 1, 30)) == utc(
        2026, 3, 28, 1, 30
    )


def test_due_slot_is_none_once_the_slot_has_run():
    schedule = daily("02:30")
    assert due_slot(schedule, utc(2026, 3, 28, 12), utc(2026, 3, 28, 1, 30)) is None
    assert due_slot(schedule, utc(2026, 3, 28, 1, 29), utc(2026, 3, 27, 1, 30)) is None


def test_due_slot_at_the_slot_itself():
    assert due_slot(daily("02:30"), utc(2026, 3, 28, 1, 30), utc(2026, 3, 27, 1, 30)) == utc(
        2026, 3, 28, 1, 30
    )


def test_due_slot_does_not_rerun_in_the_repeated_autumn_hour():
    schedule = daily("02:30")
    first = utc(2026, 10, 25, 0, 30)
    assert due_slot(schedule, first, utc(2026, 10, 24, 0, 30)) == first
    # 02:35 CET, the second time the clock shows 02:30-something.
    assert due_slot(schedule, utc(2026, 10, 25, 1, 35), first) is None


def test_due_slot_for_spring_gap_waits_for_the_shifted_time():
    schedule = daily("02:30")
    last = utc(2026, 3, 28, 1, 30)
    assert due_slot(schedule, utc(2026, 3, 29, 1, 0), last) is None  # 03:00 CEST
    assert due_slot(schedule, utc(2026, 3, 29, 1, 30), last) == utc(2026, 3, 29, 1, 30)


def test_due_slot_for_interval_and_manual():
    anchor = utc(2026, 5, 1, 12)
    assert due_slot(interval(6, anchor), utc(2026, 5, 2, 7), anchor) == utc(2026, 5, 2, 6)
    assert due_slot(Schedule("manual", {}), utc(2026, 5, 2), None) is None


def test_due_slot_without_a_last_slot_takes_the_latest_past_slot():
    assert due_slot(daily("02:30"), utc(2026, 6, 1, 12), None) == utc(2026, 6, 1, 0, 30)


# --- The form ---------------------------------------------------------------------------------


def test_parse_daily():
    schedule, errors = parse_form({"kind": "daily", "time": " 2:30 "}, "Europe/Oslo")
    assert errors == {}
    assert schedule == Schedule("daily", {"time": "02:30"}, "Europe/Oslo")


def test_parse_daily_accepts_the_norwegian_dot():
    schedule, _ = parse_form({"kind": "daily", "time": "06.15"}, "Europe/Oslo")
    assert schedule == Schedule("daily", {"time": "06:15"})


def test_parse_weekly_from_checkboxes():
    form = MultiDict([("kind", "weekly"), ("time", "06:00"), ("days", "thu"), ("days", "mon")])
    schedule, errors = parse_form(form, "Europe/Oslo")
    assert errors == {}
    assert schedule == Schedule("weekly", {"time": "06:00", "days": [0, 3]})


@pytest.mark.parametrize("days", ["mon,thu", "0,3", "3, 0, 3", "Man,TOR"])
def test_parse_weekly_from_a_comma_string(days):
    schedule, errors = parse_form({"kind": "weekly", "time": "06:00", "days": days}, "UTC")
    assert errors == {}
    assert schedule == Schedule("weekly", {"time": "06:00", "days": [0, 3]}, "UTC")


def test_parse_interval_anchors_at_the_given_moment_to_the_minute():
    saved = datetime(2026, 3, 28, 22, 14, 37, 500, tzinfo=OSLO)
    schedule, errors = parse_form({"kind": "interval", "hours": "6"}, "Europe/Oslo", anchor=saved)
    assert errors == {}
    assert schedule == Schedule(
        "interval", {"hours": 6, "anchor": "2026-03-28T21:14:00+00:00"}, "Europe/Oslo"
    )
    assert next_run(schedule, saved) == utc(2026, 3, 29, 3, 14)


def test_parse_cron_and_manual():
    schedule, errors = parse_form({"kind": "cron", "cron": "  0 6  * * 1-5 "}, "Europe/Oslo")
    assert errors == {}
    assert schedule == Schedule("cron", {"cron": "0 6 * * 1-5"})
    assert parse_form({"kind": "manual", "time": "junk"}, "Europe/Oslo") == (
        Schedule("manual", {}),
        {},
    )


@pytest.mark.parametrize(
    ("value", "nb", "en"),
    [
        ("25:00", "«25:00» finnes ikke", "There is no time “25:00”"),
        ("2:3x", "«2:3x» kan ikke leses", "“2:3x” cannot be read"),
        ("", "Fyll inn klokkeslettet", "Enter the time the export runs"),
        ("12:60", "minuttene fra 00 til 59", "minutes from 00 to 59"),
    ],
)
@pytest.mark.parametrize("kind", ["daily", "weekly"])
def test_bad_time_is_a_field_error(kind, value, nb, en):
    schedule, errors = parse_form({"kind": kind, "time": value, "days": "mon"}, "Europe/Oslo")
    assert schedule is None
    assert set(errors) == {"time"}
    assert nb in errors["time"].nb and en in errors["time"].en
    # Every time error says what to do.
    assert "Klokkeslettet må skrives som TT:MM, for eksempel 02:30." in errors["time"].nb
    assert "Enter the time as HH:MM, for example 02:30." in errors["time"].en


def test_weekly_without_days_is_a_field_error():
    schedule, errors = parse_form(MultiDict([("kind", "weekly"), ("time", "06:00")]), "UTC")
    assert schedule is None
    assert errors["days"].en == "Choose at least one day of the week for the export."
    assert errors["days"].nb == "Velg minst én ukedag eksporten skal kjøre."


def test_weekly_with_an_unknown_day_and_bad_time_reports_both():
    schedule, errors = parse_form({"kind": "weekly", "time": "6", "days": "mon,funday"}, "UTC")
    assert schedule is None
    assert set(errors) == {"time", "days"}
    assert "“funday”" in errors["days"].en


@pytest.mark.parametrize(
    ("value", "en"),
    [
        ("61 * * * *", "the minute field “61” is not valid. Use numbers from 0 to 59"),
        ("0 24 * * *", "the hour field “24” is not valid"),
        ("0 6 * * mon-fry", "the day-of-week field “mon-fry” is not valid"),
        ("0 0 L * *", "the day-of-month field “L” is not valid"),
        ("0 0 * * 5#3", "the day-of-week field “5#3” is not valid"),
        ("foo", "has 1 fields, not five"),
        ("0 6 * * 1-5 2026", "has 6 fields, not five"),
        ("", "Enter a cron expression"),
        ("0 0 31 2 *", "matches no date that exists"),
    ],
)
def test_bad_cron_is_a_field_error(value, en):
    schedule, errors = parse_form({"kind": "cron", "cron": value}, "Europe/Oslo")
    assert schedule is None
    assert set(errors) == {"cron"}
    assert en in errors["cron"].en
    assert errors["cron"].nb and errors["cron"].nb != errors["cron"].en


def test_bad_cron_names_the_field_in_norwegian():
    _, errors = parse_form({"kind": "cron", "cron": "61 * * * *"}, "Europe/Oslo")
    assert errors["cron"].nb.startswith("I cron-uttrykket er minuttfeltet «61» ugyldig.")


@pytest.mark.parametrize(
    ("value", "en"),
    [
        ("0", "from 1 to 168 (one week), not 0"),
        ("169", "from 1 to 168 (one week), not 169"),
        ("abc", "must be a whole number"),
        ("1.5", "must be a whole number"),
        ("-3", "must be a whole number"),
        ("", "Enter the number of hours"),
    ],
)
def test_hours_out_of_range_is_a_field_error(value, en):
    schedule, errors = parse_form({"kind": "interval", "hours": value}, "Europe/Oslo")
    assert schedule is None
    assert set(errors) == {"hours"}
    assert en in errors["hours"].en


@pytest.mark.parametrize("hours", ["1", "168", " 24 "])
def test_hours_in_range(hours):
    schedule, errors = parse_form({"kind": "interval", "hours": hours}, "Europe/Oslo")
    assert errors == {}
    assert schedule.expression == {"hours": int(hours)}


@pytest.mark.parametrize(("kind", "en"), [("hourly", "Unknown schedule type “hourly”"),
                                          ("", "Choose how often the export runs")])  # fmt: skip
def test_unknown_kind_is_a_field_error(kind, en):
    schedule, errors = parse_form({"kind": kind}, "Europe/Oslo")
    assert schedule is None
    assert set(errors) == {"kind"}
    assert errors["kind"].en.startswith(en)


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd"])
def test_unknown_time_zone_is_an_error(zone):
    schedule, errors = parse_form({"kind": "daily", "time": "02:30"}, zone)
    assert schedule is None
    assert set(errors) == {"time_zone"}


# --- Words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "nb", "en"),
    [
        (Schedule("manual", {}), "Bare manuelt", "Manual only"),
        (Schedule("interval", {"hours": 6}), "Hver 6. time", "Every 6 hours"),
        (Schedule("interval", {"hours": 1}), "Hver time", "Every hour"),
        (daily("02:30"), "Hver dag kl. 02:30", "Every day at 02:30"),
        (Schedule("weekly", {"time": "06:00", "days": [3, 0]}),
         "Hver mandag og torsdag kl. 06:00", "Every Monday and Thursday at 06:00"),
        (Schedule("weekly", {"time": "06:00", "days": [6]}),
         "Hver søndag kl. 06:00", "Every Sunday at 06:00"),
        (Schedule("weekly", {"time": "07:45", "days": [0, 2, 4]}),
         "Hver mandag, onsdag og fredag kl. 07:45", "Every Monday, Wednesday and Friday at 07:45"),
        (Schedule("weekly", {"time": "06:00", "days": [0, 1, 2, 3, 4]}),
         "Mandag til fredag kl. 06:00", "Monday to Friday at 06:00"),
        (Schedule("weekly", {"time": "06:00", "days": list(range(7))}),
         "Hver dag kl. 06:00", "Every day at 06:00"),
        (cron("0 6 * * 1-5"), "Cron: 0 6 * * 1-5", "Cron: 0 6 * * 1-5"),
    ],
)  # fmt: skip
def test_describe_in_both_languages(schedule, nb, en):
    assert describe(schedule, "nb") == nb
    assert describe(schedule, "en") == en
    assert describe(schedule, "en_GB") == en
    assert describe(schedule, None) == nb


def test_from_model():
    row = SyncSchedule(kind="weekly", expression={"time": "06:00", "days": [0, 3]})
    assert Schedule.from_model(row) == Schedule("weekly", {"time": "06:00", "days": [0, 3]})


def test_stored_expressions_that_are_broken_raise():
    with pytest.raises(ValueError):
        next_run(Schedule("daily", {"time": "25:00"}), utc(2026, 1, 1))
    with pytest.raises(ValueError):
        next_run(Schedule("weekly", {"time": "06:00", "days": []}), utc(2026, 1, 1))
    with pytest.raises(ValueError):
        next_run(Schedule("interval", {"hours": 0}), utc(2026, 1, 1))
    with pytest.raises(ValueError):
        next_run(Schedule("yearly", {}), utc(2026, 1, 1))


# --- Properties -------------------------------------------------------------------------------

ZONES = ["Europe/Oslo", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "UTC"]
# Daylight-saving changes in 2026 in the zones above (Lord Howe moves by half an hour,
# Santiago changes at midnight).
CHANGES = [
    utc(2026, 3, 29, 1),
    utc(2026, 10, 25, 1),
    utc(2026, 3, 8, 7),
    utc(2026, 11, 1, 6),
    utc(2026, 4, 4, 15),
    utc(2026, 10, 3, 15, 30),
    utc(2026, 4, 5, 3),
    utc(2026, 9, 6, 4),
]

instants = st.one_of(
    st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1), timezones=st.just(UTC)),
    st.builds(
        lambda change, minutes, seconds: change + timedelta(minutes=minutes, seconds=seconds),
        st.sampled_from(CHANGES),
        st.integers(-3 * 1440, 3 * 1440),
        st.sampled_from([0, 0, 0, 1, 59]),
    ),
)
clock_times = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
cron_expressions = st.builds(
    lambda *fields: " ".join(fields),
    st.sampled_from(["0", "30", "*/15", "5,35", "59"]),
    st.sampled_from(["*", "2", "0", "*/6", "1-3", "0,12", "23"]),
    st.sampled_from(["*", "1", "15", "*/2", "29", "31"]),
    # Never "31" with only short months: every expression here runs.
    st.sampled_from(["*", "3,10", "1-6", "2,3"]),
    st.sampled_from(["*", "1-5", "0", "6,0", "mon"]),
)
daily_or_weekly = st.one_of(
    st.builds(daily, clock_times, st.sampled_from(ZONES)),
    st.builds(
        lambda at, days, zone: Schedule("weekly", {"time": at, "days": sorted(days)}, zone),
        clock_times,
        st.sets(st.integers(0, 6), min_size=1),
        st.sampled_from(ZONES),
    ),
)
schedules = st.one_of(
    daily_or_weekly,
    st.builds(cron, cron_expressions, st.sampled_from(ZONES)),
    st.builds(interval, st.integers(1, 168), instants),
)
properties = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@properties
@given(schedules, instants)
def test_next_runs_increase_and_follow_after(schedule, after):
    runs = next_runs(schedule, after, n=4)
    assert len(runs) == 4
    assert all(run.tzinfo is UTC for run in runs)
    assert after < runs[0]
    assert all(a < b for a, b in zip(runs, runs[1:], strict=False))
    if schedule.kind in ("daily", "weekly"):
        zone = ZoneInfo(schedule.time_zone)
        dates = [run.astimezone(zone).date() for run in runs]
        assert len(set(dates)) == len(dates)


@properties
@given(daily_or_weekly, instants)
def test_daily_and_weekly_skip_no_chosen_day(schedule, after):
    zone = ZoneInfo(schedule.time_zone)
    chosen = set(schedule.expression.get("days", range(7)))
    at = time.fromisoformat(schedule.expression["time"])
    runs = next_runs(schedule, after, n=4)
    for run in runs:
        local = run.astimezone(zone)
        assert local.weekday() in chosen
        # The chosen time on that date (read as its first occurrence, or shifted by the gap).
        assert run == datetime.combine(local.date(), at, tzinfo=zone).astimezone(UTC)
    dates = [run.astimezone(zone).date() for run in runs]
    for first, second in zip(dates, dates[1:], strict=False):
        between = [first + timedelta(days=i) for i in range(1, (second - first).days)]
        assert not [day for day in between if day.weekday() in chosen]


@properties
@given(schedules, instants)
def test_previous_run_and_due_slot_agree_with_next_run(schedule, after):
    runs = next_runs(schedule, after, n=3)
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert previous_run(schedule, later) == later
        assert previous_run(schedule, later - timedelta(microseconds=1)) == earlier
        assert due_slot(schedule, later, earlier) == later
        assert due_slot(schedule, later - timedelta(seconds=1), earlier) is None
    assert previous_run(schedule, runs[0] - timedelta(microseconds=1)) <= after


@properties
@given(cron_expressions, st.datetimes(datetime(2020, 1, 1), datetime(2035, 1, 1)))
def test_cron_without_daylight_saving_matches_croniter(expression, after):
    expected = croniter(expression, after).get_next(datetime)
    assert next_run(cron(expression, "UTC"), after.replace(tzinfo=UTC)) == expected.replace(
        tzinfo=UTC
    )


def test_daily_local_dates_at_each_change_are_covered():
    # A direct check of the day-by-day list on the two change days.
    for day in (date(2026, 3, 29), date(2026, 10, 25)):
        runs = next_runs(daily("02:30"), datetime.combine(day, time(0), tzinfo=OSLO), n=1)
        assert [run.astimezone(OSLO).date() for run in runs] == [day]


cron_text = st.lists(
    st.text(alphabet="0123456789*,/-LW#?Hmonjanfri ", max_size=6), min_size=0, max_size=7
).map(" ".join)


@properties
@given(st.one_of(cron_text, st.text(max_size=20)), instants)
def test_any_cron_text_gives_a_schedule_that_runs_or_a_field_error(text, after):
    schedule, errors = parse_form({"kind": "cron", "cron": text}, "Europe/Oslo")
    if schedule is None:
        assert set(errors) == {"cron"}
    else:
        assert errors == {}
        assert next_run(schedule, after) is not None


@properties
@given(st.text(max_size=8), st.text(max_size=8))
def test_any_time_or_hours_text_gives_a_schedule_or_a_field_error(time_text, hours_text):
    for form in ({"kind": "daily", "time": time_text}, {"kind": "interval", "hours": hours_text}):
        schedule, errors = parse_form(form, "Europe/Oslo")
        assert (schedule is None) == bool(errors)
        if schedule is not None:
            assert next_run(schedule, utc(2026, 1, 1)) is not None
