"""Period close, pure (SPEC §11): frozen rows, adjustment rows, the Closed periods tab records, refusals."""

from __future__ import annotations

from datetime import date

import pytest

from syncer.domain.close import (
    CLOSE,
    REOPEN,
    CloseRecord,
    FrozenRow,
    PeriodAction,
    Periods,
    closed_table,
    frozen_rows,
    read_records,
    record_for,
    rollup_with_closes,
)
from syncer.domain.periods import next_period, period_end
from syncer.errors import RefusedError
from syncer.tables import BUDGET_ROLLUP, CLOSED_PERIODS, HEADERS

MONTHS = Periods("month", 4)
ADS = ("Spring", "Ads", "6100")
DESIGN = ("Spring", "Design", "6300")


def row(account, period, b, p, c, i, lab, o, adjusts=None):
    """A Budget rollup row, its Remaining, Used % and Flag worked out by hand (labour counts)."""
    r = round(b - i - o - lab, 2)
    used = None if adjusts or not b else round((b - r) / b, 4)
    flag = None if adjusts else ("over" if r < 0 else "at risk" if p > b else "ok")
    return [*account, period, b, p, c, i, lab, o, r, used, flag, adjusts]


def total(campaign, b, p, c, i, lab, o):
    return row((campaign, "Total", None), None, b, p, c, i, lab, o)


def grand(b, p, c, i, lab, o):
    return row(("Total", None, None), None, b, p, c, i, lab, o)


def table(*rows):
    return [list(HEADERS[BUDGET_ROLLUP]), *[list(r) for r in rows]]


# October as frozen: an invoice of 1,000.00 on Ads, 5 h of design at 80 = 400.00.
FROZEN_OCT = table(
    row(ADS, "2026-10", 2000, 1500, 1000, 1000, 0, 0),
    row(ADS, "2026-11", 2000, 0, 0, 0, 0, 0),
    row(DESIGN, "2026-10", 0, 0, 0, 0, 400, 0),
    total("Spring", 4000, 1500, 1000, 1000, 400, 0),
    grand(4000, 1500, 1000, 1000, 400, 0),
)
# Later: the invoice was edited to 1,200.50 and 2 h (160.00) of design were logged back-dated into October.
LIVE = table(
    row(ADS, "2026-10", 2000, 1500, 1000, 1200.5, 0, 0),
    row(ADS, "2026-11", 2000, 0, 0, 0, 0, 0),
    row(DESIGN, "2026-10", 0, 0, 0, 0, 560, 0),
    total("Spring", 4000, 1500, 1000, 1200.5, 560, 0),
    grand(4000, 1500, 1000, 1200.5, 560, 0),
)
OCT_CLOSE = CloseRecord("2026-10", CLOSE, "2026-11-03T10:00:00+01:00", "ana", None,
                        frozen_rows(FROZEN_OCT, "2026-10"))


def detail_sum(t, campaign, col):
    i = HEADERS[BUDGET_ROLLUP].index(col)
    return round(sum(r[i] for r in t[1:] if r[0] == campaign and r[3] is not None), 2)


def test_a_closed_month_shows_as_frozen_and_each_changed_account_gets_one_adjustment_row_in_the_next_month():
    shown = rollup_with_closes(LIVE, [OCT_CLOSE], MONTHS)
    assert shown == table(
        row(ADS, "2026-10", 2000, 1500, 1000, 1000, 0, 0),  # exactly as frozen
        row(ADS, "2026-11", 2000, 0, 0, 0, 0, 0),
        row(ADS, "2026-11", 0, 0, 0, 200.5, 0, 0, adjusts="2026-10"),  # 1,200.50 - 1,000.00
        row(DESIGN, "2026-10", 0, 0, 0, 0, 400, 0),
        row(DESIGN, "2026-11", 0, 0, 0, 0, 160, 0, adjusts="2026-10"),  # 560.00 - 400.00
        total("Spring", 4000, 1500, 1000, 1200.5, 560, 0),
        grand(4000, 1500, 1000, 1200.5, 560, 0),
    )
    for col in ("Budgeted", "Invoiced", "Labour", "Remaining"):  # every Total is the sum of its rows, to the cent
        assert detail_sum(shown, "Spring", col) == shown[-2][HEADERS[BUDGET_ROLLUP].index(col)]


def test_reopening_makes_the_adjustments_disappear_and_the_month_shows_live_numbers():
    reopen = CloseRecord("2026-10", REOPEN, "2026-11-10T09:00:00+01:00", "ana", "late agency invoice")
    assert rollup_with_closes(LIVE, [OCT_CLOSE, reopen], MONTHS) == LIVE


def test_an_unchanged_ledger_shows_no_adjustment_and_a_month_after_closed_months_takes_them():
    assert rollup_with_closes(FROZEN_OCT, [OCT_CLOSE], MONTHS) == FROZEN_OCT
    nov = CloseRecord("2026-11", CLOSE, "2026-12-02T10:00:00+01:00", "ana", None,
                      frozen_rows(FROZEN_OCT, "2026-11"))
    shown = rollup_with_closes(LIVE, [OCT_CLOSE, nov], MONTHS)
    adjustments = [r for r in shown[1:] if r[-1]]
    assert [(r[:4], r[7], r[8]) for r in adjustments] == [
        (["Spring", "Ads", "6100", "2026-12"], 200.5, 0), (["Spring", "Design", "6300", "2026-12"], 0, 160)]


def test_closing_a_month_holding_adjustments_freezes_them_and_later_changes_adjust_only_the_rest():
    shown_nov = rollup_with_closes(LIVE, [OCT_CLOSE], MONTHS)  # November shows October's adjustments
    nov = CloseRecord("2026-11", CLOSE, "2026-12-02T10:00:00+01:00", "ana", None, frozen_rows(shown_nov, "2026-11"))
    assert rollup_with_closes(LIVE, [OCT_CLOSE, nov], MONTHS) == shown_nov  # nothing moves at the close
    later = [list(r) for r in LIVE]
    later[1] = row(ADS, "2026-10", 2000, 1500, 1000, 1250.5, 0, 0)  # another 50.00 on the October invoice
    later[4], later[5] = total("Spring", 4000, 1500, 1000, 1250.5, 560, 0), grand(4000, 1500, 1000, 1250.5, 560, 0)
    shown = rollup_with_closes(later, [OCT_CLOSE, nov], MONTHS)
    assert [r for r in shown if r[-1] and r[3] == "2026-12"] == [row(ADS, "2026-12", 0, 0, 0, 50, 0, 0, "2026-10")]
    assert shown[-1] == later[-1]


def test_an_account_that_vanished_from_a_closed_month_is_adjusted_away_and_its_campaign_totals_zero():
    live = table(row(ADS, "2026-11", 100, 0, 0, 0, 0, 0), total("Spring", 100, 0, 0, 0, 0, 0),
                 grand(100, 0, 0, 0, 0, 0))
    gone = FrozenRow(("Autumn", None, None), (0, 0, 0, 0, 4000, 0, -4000))  # 40.00 of labour, since moved away
    oct_close = CloseRecord("2026-10", CLOSE, "t", "ana", None, (gone,))
    shown = rollup_with_closes(live, [oct_close], MONTHS)
    assert shown[1:4] == [
        row(("Autumn", None, None), "2026-10", 0, 0, 0, 0, 40, 0),
        row(("Autumn", None, None), "2026-11", 0, 0, 0, 0, -40, 0, adjusts="2026-10"),
        total("Autumn", 0, 0, 0, 0, 0, 0),
    ]
    assert shown[-1] == live[-1]


def test_the_closed_periods_tab_round_trips_closes_reopens_and_frozen_adjustment_rows():
    adj = FrozenRow(ADS, (0, 0, 0, 20050, 0, 0, -20050), adjusts="2026-10")
    nov = CloseRecord("2026-11", CLOSE, "2026-12-02T10:00:00+01:00", "ben", None, (adj,))
    reopen = CloseRecord("2026-10", REOPEN, "2026-12-03T10:00:00+01:00", "ana", "late invoice")
    tab = closed_table([OCT_CLOSE, nov, reopen])
    assert tab[0] == HEADERS[CLOSED_PERIODS]
    assert tab[1] == ["2026-10", "close", "2026-11-03T10:00:00+01:00", "ana", None, "Spring", "Ads", "6100",
                      2000.0, 1500.0, 1000.0, 1000.0, 0.0, 0.0, 1000.0]
    assert tab[3][4] == "adjusts 2026-10" and tab[4][:5] == ["2026-10", "reopen", "2026-12-03T10:00:00+01:00", "ana",
                                                             "late invoice"]
    records, warnings = read_records(tab, "month")
    assert records == [OCT_CLOSE, nov, reopen] and warnings == []


def test_a_row_of_the_tab_syncer_cannot_read_is_left_out_naming_its_row():
    tab = closed_table([OCT_CLOSE])
    tab[2][11] = "twelve"  # someone typed over an amount
    tab.append(["October", "close", "x", "ana"])
    records, warnings = read_records(tab, "month")
    assert [len(r.rows) for r in records] == [1]
    assert warnings == ["Closed periods tab row 3: Invoiced is not a number; row ignored",
                        "Closed periods tab row 4: Period 'October' is not a budget period; row ignored"]
    records, warnings = read_records(tab[:3], "quarter")  # the config moved to quarters since October was closed
    assert records == [] and warnings == [
        "Closed periods tab: 2026-10 is not a quarter (budget_period: quarter), so its 2 rows are not applied"]


def test_reopening_a_month_whose_adjustments_a_later_close_froze_books_the_reversal_after_that_close():
    shown_nov = rollup_with_closes(LIVE, [OCT_CLOSE], MONTHS)
    nov = CloseRecord("2026-11", CLOSE, "2026-12-02T10:00:00+01:00", "ana", None, frozen_rows(shown_nov, "2026-11"))
    reopen = CloseRecord("2026-10", REOPEN, "2026-12-03T10:00:00+01:00", "ana", "recount")
    shown = rollup_with_closes(LIVE, [OCT_CLOSE, nov, reopen], MONTHS)
    assert period_of(shown, "2026-10") == period_of(LIVE, "2026-10")  # October live again
    assert period_of(shown, "2026-11") == period_of(shown_nov, "2026-11")  # November as frozen, adjustments too
    assert [r[:4] + r[7:9] + r[13:] for r in period_of(shown, "2026-12")] == [  # what November over-reports
        ["Spring", "Ads", "6100", "2026-12", -200.5, 0, "2026-10"],
        ["Spring", "Design", "6300", "2026-12", 0, -160, "2026-10"]]
    assert shown[-2:] == LIVE[-2:]


def test_a_closed_quarter_is_adjusted_in_the_next_quarter():
    quarters = Periods("quarter", 4)
    frozen = table(row(ADS, "FY2027-Q3", 3000, 0, 0, 1000, 0, 0), total("Spring", 3000, 0, 0, 1000, 0, 0),
                   grand(3000, 0, 0, 1000, 0, 0))
    live = table(row(ADS, "FY2027-Q3", 3000, 0, 0, 1100, 0, 0), total("Spring", 3000, 0, 0, 1100, 0, 0),
                 grand(3000, 0, 0, 1100, 0, 0))
    q3 = record_for(PeriodAction("close", "FY2027-Q3", "ana"), [], frozen, date(2027, 1, 1), quarters, "t")
    shown = rollup_with_closes(live, [q3], quarters)
    assert shown[1:3] == [frozen[1], row(ADS, "FY2027-Q4", 0, 0, 0, 100, 0, 0, adjusts="FY2027-Q3")]
    with pytest.raises(RefusedError, match="FY2027-Q4 has not ended yet"):
        record_for(PeriodAction("close", "FY2027-Q4", "ana"), [q3], shown, date(2027, 3, 31), quarters, "t")


def period_of(t, period):
    return [r for r in t[1:] if r[3] == period]


@pytest.mark.parametrize(("period", "today", "why"), [
    ("2026-11", date(2026, 11, 30), "2026-11 has not ended yet (its last day is 2026-11-30)"),
    ("2026-10", date(2026, 11, 5), "2026-10 is already closed (by ana at 2026-11-03T10:00:00+01:00); reopen it first"),
    ("2026-08", date(2026, 11, 5), "2026-08 has no Budget rollup rows, so there is nothing to close"),
    ("FY2027-Q2", date(2026, 11, 5), "'FY2027-Q2' is not a budget period here: with budget_period: month give a "
                                     "month like 2026-10"),
])
def test_closing_is_refused_with_the_reason(period, today, why):
    with pytest.raises(RefusedError) as e:
        record_for(PeriodAction("close", period, "ana"), [OCT_CLOSE], LIVE, today, MONTHS, "now")
    assert (e.value.headline, str(e.value)) == (f"cannot close {period}", why)


def test_a_month_can_be_closed_on_the_first_day_after_it_and_reopened_only_with_a_reason():
    rec = record_for(PeriodAction("close", "2026-11", "ana"), [], LIVE, date(2026, 12, 1), MONTHS, "t")
    assert rec.rows == (FrozenRow(ADS, (200000, 0, 0, 0, 0, 0, 200000)),)
    with pytest.raises(RefusedError, match="give the reason"):
        record_for(PeriodAction("reopen", "2026-10", "ana", " "), [OCT_CLOSE], LIVE, date(2026, 12, 1), MONTHS, "t")
    with pytest.raises(RefusedError, match="2026-09 is not closed"):
        record_for(PeriodAction("reopen", "2026-09", "ana", "x"), [OCT_CLOSE], LIVE, date(2026, 12, 1), MONTHS, "t")


def test_quarters_and_fiscal_years_follow_the_fiscal_calendar():
    assert next_period("FY2027-Q4", "quarter", 4) == "FY2028-Q1"
    assert next_period("FY2027-Q3", "quarter", 4) == "FY2027-Q4"
    assert next_period("FY2027", "fiscal_year", 4) == "FY2028"
    assert next_period("2026-12", "month", 4) == "2027-01"
    assert period_end("FY2027-Q3", 4) == date(2027, 1, 1)  # October to December 2026
    assert period_end("FY2027", 4) == date(2027, 4, 1)
