"""Budget lines from finance's CSV or `Budget` tab: good rows read, bad rows warned about and skipped."""

from __future__ import annotations

from datetime import date

import pytest

from syncer.domain.budget import BudgetLine, budget_from_rows, read_budget_csv
from syncer.errors import ConfigError


def test_rows_from_the_budget_tab():
    rows = [
        [],  # blank rows above the header are fine
        ["Campaign", "Activity", "G/L account", "Period", "Amount"],
        ["Spring launch", "Media", "6200", "FY2027-Q1", 30000],
        ["Spring launch", "", "6100", "2026-05", "1,200.50"],
        ["Brand", None, None, "fy2027", "€12,000"],
        [None, None, None, None, None],  # blank row: skipped silently
        ["Brand", "Print", "6300", date(2026, 6, 1), 500.0],  # a sheet turned 2026-06 into a date
        ["Brand", "Print", "6300", "2026-07-01", "-250"],  # a budget cut
    ]
    lines, warnings = budget_from_rows(rows)
    assert warnings == []
    assert lines == [
        BudgetLine("Spring launch", "Media", "6200", "FY2027-Q1", 30000.0, 3),
        BudgetLine("Spring launch", None, "6100", "2026-05", 1200.5, 4),
        BudgetLine("Brand", None, None, "FY2027", 12000.0, 5),
        BudgetLine("Brand", "Print", "6300", "2026-06", 500.0, 7),
        BudgetLine("Brand", "Print", "6300", "2026-07", -250.0, 8),
    ]


def test_date_serials_in_period_are_months_and_numbers_in_amount_stay_amounts():
    rows = [["Campaign", "Period", "Amount"],
            ["A", 46143, 46143],  # Google Sheets reads a date cell (2026-05-01) as days since 1899-12-30
            ["B", 46188.75, 100.0],  # 2026-06-15 18:00
            ["C", 2026, 1],  # a year typed as a plain number is no date
            ["D", 1e300, 1]]
    lines, warnings = budget_from_rows(rows)
    assert [(x.campaign, x.period, x.amount) for x in lines] == [("A", "2026-05", 46143.0), ("B", "2026-06", 100.0)]
    assert [w[:26] for w in warnings] == [f"Budget tab row {i}: Period '" for i in (4, 5)]
    assert "'2026' is not a month" in warnings[0]


def test_bad_rows_are_warnings_with_row_numbers():
    rows = [
        ["campaign", "period", "amount", "gl account"],  # any order and spelling of the header
        ["A", "2026-05", "100", "6100"],
        ["", "2026-05", "100", "6100"],
        ["B", "Q1-2027", "100", "6100"],
        ["C", "2026-05", "12k", "6100"],
        ["D", "2026-13", "100", "6100"],
        ["E", "2026-05", "", "6100"],
        ["F", "2026-05"],  # short row: no amount
    ]
    lines, warnings = budget_from_rows(rows, origin="budget.csv")
    assert [ln.campaign for ln in lines] == ["A"]
    assert lines[0].gl_account == "6100" and lines[0].activity is None
    assert len(warnings) == 6
    assert warnings[0] == "budget.csv row 3: Campaign is empty; row skipped"
    assert warnings[1].startswith("budget.csv row 4: Period 'Q1-2027' is not a month (2026-05), a quarter")
    assert warnings[2].startswith("budget.csv row 5: Amount '12k' is not readable")
    assert warnings[3].startswith("budget.csv row 6: Period '2026-13'")
    assert warnings[4].startswith("budget.csv row 7: Amount '(empty)'")
    assert warnings[5].startswith("budget.csv row 8: Amount '(empty)'")


def test_missing_column_ignores_the_budget_with_a_warning():
    lines, warnings = budget_from_rows([["Campaign", "Period"], ["A", "2026-05"]])
    assert lines == []
    assert warnings == ["Budget tab row 1: the header has no Amount column (expected Campaign, Activity, "
                        "G/L account, Period, Amount); budget ignored"]
    assert budget_from_rows([])[1][0].startswith("Budget tab: no rows")


def test_title_rows_above_the_header_are_ignored():
    rows = [["Marketing budget FY2027", None], ["owner: finance"], ["Campaign", "Period", "Amount"],
            ["Spring", "2026-05", "10"]]
    assert budget_from_rows(rows) == ([BudgetLine("Spring", None, None, "2026-05", 10.0, 4)], [])


def test_read_csv_with_bom_and_semicolons(tmp_path):
    p = tmp_path / "budget.csv"
    p.write_text("\ufeffCampaign;Activity;G/L account;Period;Amount\nSpring;Media;6200;FY2027-Q1;\"30,000\"\n"
                 "Spring;Media;6200;FY2027-Q9;10\n", encoding="utf-8")
    lines, warnings = read_budget_csv(p)
    assert lines == [BudgetLine("Spring", "Media", "6200", "FY2027-Q1", 30000.0, 2)]
    assert len(warnings) == 1 and warnings[0].startswith("budget.csv row 3: Period 'FY2027-Q9'")


def test_read_csv_comma(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("Campaign,Activity,G/L account,Period,Amount\nSpring,,6100,2026-05,\"1,200.50\"\n")
    assert read_budget_csv(p) == ([BudgetLine("Spring", None, "6100", "2026-05", 1200.5, 2)], [])


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="budget.file: cannot read"):
        read_budget_csv(tmp_path / "missing.csv")
    bad = tmp_path / "latin1.csv"
    bad.write_bytes("Campaign,Period,Amount\nCafé,2026-05,1\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_budget_csv(bad)
