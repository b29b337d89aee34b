"""Periods: ISO weeks, months, fiscal quarters/years, budget period parsing, spreading and local days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncer.domain.periods import (
    LocalCalendar,
    fiscal_quarter,
    fiscal_year,
    fiscal_year_months,
    iso_week,
    month,
    period_kind,
    period_label,
    period_months,
    spread_evenly,
)

BERLIN = ZoneInfo("Europe/Berlin")


def test_iso_week_and_month_labels():
    assert iso_week(date(2026, 2, 12)) == "2026-W07"
    assert iso_week(date(2026, 1, 1)) == "2026-W01"  # a Thursday: week 1 of 2026
    assert iso_week(date(2027, 1, 1)) == "2026-W53"  # a Friday: still the ISO year 2026, which has 53 weeks
    assert month(date(2026, 2, 12)) == "2026-02"


def test_fiscal_year_boundary_in_april():
    # fiscal_year_start_month 4: FY2027 = 2026-04-01 .. 2027-03-31, named by the year it ends in
    assert fiscal_year(2026, 3, 4) == 2026
    assert fiscal_year(2026, 4, 4) == 2027
    assert fiscal_year(2027, 3, 4) == 2027
    assert fiscal_year(2026, 12, 1) == 2026  # calendar fiscal year
    assert fiscal_quarter(2026, 4, 4) == (2027, 1)
    assert fiscal_quarter(2026, 7, 4) == (2027, 2)
    assert fiscal_quarter(2026, 12, 4) == (2027, 3)
    assert fiscal_quarter(2027, 1, 4) == (2027, 4)
    assert fiscal_quarter(2026, 3, 4) == (2026, 4)
    assert period_label(2026, 3, "quarter", 4) == "FY2026-Q4"
    assert period_label(2026, 4, "quarter", 4) == "FY2027-Q1"
    assert period_label(2026, 4, "fiscal_year", 4) == "FY2027"
    assert period_label(2026, 4, "month", 4) == "2026-04"


def test_period_months():
    assert period_months("2026-05", 4) == [(2026, 5)]
    assert period_months("FY2027-Q1", 4) == [(2026, 4), (2026, 5), (2026, 6)]
    assert period_months("FY2027-Q4", 4) == [(2027, 1), (2027, 2), (2027, 3)]
    assert period_months("FY2027", 4) == fiscal_year_months(2027, 4)
    assert fiscal_year_months(2027, 4)[0] == (2026, 4) and fiscal_year_months(2027, 4)[-1] == (2027, 3)
    assert period_months("FY2026-Q4", 1) == [(2026, 10), (2026, 11), (2026, 12)]
    assert period_months("FY2026", 1) == [(2026, m) for m in range(1, 13)]


@pytest.mark.parametrize("text", ["2026-13", "2026-5", "Q1-2027", "FY27", "FY2027-Q5", "", "fy2027"])
def test_unknown_period_kinds(text):
    assert period_kind(text) is None
    with pytest.raises(ValueError):
        period_months(text, 4)


def test_quarter_line_spread_over_three_months():
    # 1,000.00 over 3 months = 100000 cents; cumulative rounding: round(33333.3)=33333, round(66666.7)=66667,
    # 100000 -> months 333.33, 333.34, 333.33 (sum exactly 1,000.00)
    assert spread_evenly(100000, 3) == [33333, 33334, 33333]
    # 30,000.00 divides evenly
    assert spread_evenly(3000000, 3) == [1000000] * 3
    # a year line of 1,000.00: every fiscal quarter gets exactly 250.00
    parts = spread_evenly(100000, 12)
    assert [sum(parts[i:i + 3]) for i in (0, 3, 6, 9)] == [25000] * 4
    assert sum(spread_evenly(-100000, 3)) == -100000


@given(st.integers(-10**12, 10**12), st.integers(1, 12))
def test_spread_sums_exactly_and_is_even(cents, n):
    parts = spread_evenly(cents, n)
    assert sum(parts) == cents
    assert max(parts) - min(parts) <= 1


def test_worklog_on_dst_change_day():
    cal = LocalCalendar(BERLIN, 4)
    # 2026-03-29: Berlin goes from UTC+1 to UTC+2 at 01:00 UTC.
    # 00:30 UTC = 01:30 CET, still Sunday 29 March -> ISO week 13
    early = cal.labels(datetime(2026, 3, 29, 0, 30, tzinfo=UTC))
    assert (early.day, early.week, early.month) == (date(2026, 3, 29), "2026-W13", "2026-03")
    # 22:30 UTC = 00:30 CEST on Monday 30 March -> week 14 (a fixed UTC+1 would say Sunday, week 13)
    late = cal.labels(datetime(2026, 3, 29, 22, 30, tzinfo=UTC))
    assert (late.day, late.week) == (date(2026, 3, 30), "2026-W14")
    # 2026-03-31 22:30 UTC = 2026-04-01 00:30 CEST: April, i.e. already fiscal year 2027
    fy = cal.labels(datetime(2026, 3, 31, 22, 30, tzinfo=UTC))
    assert fy.year_month == (2026, 4) and cal.budget_period(fy.year_month, "fiscal_year") == "FY2027"
    # autumn: 2025-10-31 23:30 UTC = 2025-11-01 00:30 CET (UTC+1 again since 26 October)
    assert cal.labels(datetime(2025, 10, 31, 23, 30, tzinfo=UTC)).month == "2025-11"


def test_half_hour_zone_day_boundary():
    cal = LocalCalendar(ZoneInfo("Asia/Kolkata"))  # UTC+05:30: local midnight is at 18:30 UTC
    assert cal.day(datetime(2026, 1, 31, 18, 29, tzinfo=UTC)) == date(2026, 1, 31)
    assert cal.day(datetime(2026, 1, 31, 18, 30, tzinfo=UTC)) == date(2026, 2, 1)


def test_midnight_is_local():
    cal = LocalCalendar(BERLIN)
    assert cal.midnight(date(2026, 3, 30)) == datetime(2026, 3, 29, 22, 0, tzinfo=UTC).timestamp()
    assert cal.midnight(date(2026, 3, 29)) == datetime(2026, 3, 28, 23, 0, tzinfo=UTC).timestamp()


ZONES = st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC",
                         "America/Santiago", "Asia/Kathmandu"])


@given(ZONES, st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1)),
       st.sampled_from([0, 60, -300, 330, 765]))
def test_fast_local_day_matches_astimezone(zone, naive, offset_minutes):
    tz = ZoneInfo(zone)
    cal = LocalCalendar(tz)
    when = naive.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))
    assert cal.day(when) == when.astimezone(tz).date()
    assert cal.day(when) == cal.day(when)  # cached path agrees with the first look-up
    assert cal.labels_of([when])[0].day == when.astimezone(tz).date()
