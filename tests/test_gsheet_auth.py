"""The gsheet sink's credentials: JSON text or a path, clear exit-2 errors naming the account, never the key."""

from __future__ import annotations

import json

import pytest
import requests
import responses
from fake_sheets import TOKEN_URL, make_sink, service_account_info

from syncer.config import GsheetSinkConfig
from syncer.errors import ConfigError, SinkError
from syncer.retry import RetryPolicy
from syncer.sinks.gsheet.sink import GsheetSink, load_service_account
from syncer.tables import HEADERS, TASKS

EMAIL = "syncer@acme-ops.iam.gserviceaccount.com"


def sink_from(credentials: str, spreadsheet_id: str = "sheet-1") -> GsheetSink:
    cfg = GsheetSinkConfig(kind="gsheet", spreadsheet_id=spreadsheet_id, credentials=credentials)
    return GsheetSink.from_config(cfg, None, policy=RetryPolicy(sleep=lambda s: None))


def tasks_only() -> dict:
    return {TASKS: [list(HEADERS[TASKS]), ["jira", "MKT-1", "Brief"]]}


def assert_no_secret(text: str, info: dict) -> None:
    body = info["private_key"].split("-----")[2].strip()
    assert body[:40] not in text and body[-40:] not in text and "PRIVATE KEY" not in text


def test_credentials_as_json_text_and_as_a_path_both_work(fake, tmp_path):
    info = fake.share(EMAIL)
    path = tmp_path / "key.json"
    path.write_text(json.dumps(info))
    for credentials in (json.dumps(info), f"  {json.dumps(info)}\n", str(path)):
        sink = sink_from(credentials)
        assert sink.email == EMAIL
        sink.apply(sink.plan(tasks_only()), ["2026-01-01", "full"])
    assert fake.values(TASKS)[1] == ["jira", "MKT-1", "Brief"]


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        ('{"type": "service_account", "private_key": "-----BEGIN', "not valid JSON"),
        ('{"type": "authorized_user", "client_id": "x"}', "not a service-account key"),
        ('{"type": "service_account", "client_email": "a@b.c"}', "no private_key, token_uri"),
        ("/nowhere/key.json", "neither a service-account JSON key nor the path"),
        ("", "neither a service-account JSON key nor the path"),
        ("x" * 5000, "neither a service-account JSON key nor the path"),
    ],
)
def test_unusable_credentials_are_config_errors_that_do_not_echo_them(credentials, message):
    with pytest.raises(ConfigError, match=message) as err:
        load_service_account(credentials)
    assert err.value.exit_code == 2
    assert "BEGIN" not in str(err.value) and "authorized_user" not in str(err.value)


def test_an_unreadable_private_key_names_the_account_and_not_the_key():
    info = service_account_info(EMAIL)
    info["private_key"] = info["private_key"][:200] + "garbage" + info["private_key"][200:]
    with pytest.raises(ConfigError, match=f"service account {EMAIL} cannot be read") as err:
        sink_from(json.dumps(info))
    assert_no_secret(str(err.value), info)


def test_a_sheet_not_shared_with_the_account_says_whom_to_share_it_with(fake):
    info = fake.share(EMAIL)
    del fake.shared[EMAIL]
    with pytest.raises(ConfigError, match=f"Share the sheet with the service account {EMAIL}") as err:
        sink_from(json.dumps(info)).plan(tasks_only())
    assert err.value.exit_code == 2 and "403" in str(err.value)
    assert fake.count() == 1  # a 403 is not retried
    assert_no_secret(str(err.value), info)


def test_a_viewer_share_fails_at_the_write_with_the_same_advice(fake):
    info = fake.share(EMAIL, role="reader")
    sink = sink_from(json.dumps(info))
    plan = sink.plan(tasks_only())
    with pytest.raises(ConfigError, match="as an Editor"):
        sink.apply(plan, ["2026-01-01", "full"])


def test_a_revoked_key_is_a_config_error_naming_the_account(fake):
    fake.share(EMAIL)
    info = service_account_info("other@acme-ops.iam.gserviceaccount.com")  # a key Google does not know
    info["client_email"] = EMAIL
    with pytest.raises(ConfigError, match=f"rejected the key of service account {EMAIL}") as err:
        sink_from(json.dumps(info)).read_tab("Budget")
    assert "invalid_grant" in str(err.value)
    assert_no_secret(str(err.value), info)


def test_a_wrong_spreadsheet_id_is_a_config_error(fake):
    info = fake.share(EMAIL)
    with pytest.raises(ConfigError, match="spreadsheet no-such-sheet .*404"):
        sink_from(json.dumps(info), spreadsheet_id="no-such-sheet").plan(tasks_only())


def test_no_network_to_the_token_endpoint_is_retried_then_a_sink_error():
    info = service_account_info(EMAIL)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, TOKEN_URL, body=requests.ConnectionError("no route to host"))
        sleeps: list[float] = []
        sink = GsheetSink.from_config(
            GsheetSinkConfig(kind="gsheet", spreadsheet_id="s", credentials=json.dumps(info)), None,
            policy=RetryPolicy(sleep=sleeps.append, attempts=3),
        )
        with pytest.raises(SinkError, match="cannot reach Google Sheets") as err:
            sink.plan(tasks_only())
    assert err.value.exit_code == 1 and len(sleeps) == 2 and sink.requests == 3


def test_a_bad_request_is_a_sink_error_with_googles_message(fake):
    info = fake.share(EMAIL)
    sink = make_sink(fake, info)
    fake.fail("batchUpdate", 400)
    with pytest.raises(SinkError, match="structure update failed .*HTTP 400: fake failure"):
        sink.apply(sink.plan(tasks_only()), ["2026-01-01", "full"])
    assert fake.count("batchUpdate") == 1


def test_a_401_says_the_key_was_rejected_not_to_share_the_sheet(fake):
    info = fake.share(EMAIL)
    fake.fail("metadata", 401, times=None)  # the token was issued, then refused: a key deleted or disabled since
    with pytest.raises(ConfigError, match=f"rejected the sign-in of service account {EMAIL} .*HTTP 401") as err:
        make_sink(fake, info).plan(tasks_only())
    assert err.value.exit_code == 2 and "Share" not in str(err.value) and "create a new JSON key" in str(err.value)
    assert_no_secret(str(err.value), info)


def test_a_disabled_sheets_api_says_to_enable_it(fake):
    info = fake.share(EMAIL)
    message = ("Google Sheets API has not been used in project 123 before or it is disabled. Enable it by visiting "
               "https://console.developers.google.com/apis/api/sheets.googleapis.com/overview?project=123 then retry.")
    details = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED"}]
    error = {"code": 403, "message": message, "status": "PERMISSION_DENIED", "details": details}
    fake.fail("metadata", 403, body=json.dumps({"error": error}))
    with pytest.raises(ConfigError, match=f"Sheets API is not enabled .* service account {EMAIL}") as err:
        make_sink(fake, info).plan(tasks_only())
    assert "overview?project=123" in str(err.value) and "Share" not in str(err.value)


def test_googles_error_text_is_cut_short_and_an_html_page_reduced_to_its_title(fake):
    info = fake.share(EMAIL)
    page = ("<!DOCTYPE html><html lang=en><meta charset=utf-8><title>Error 502 (Server Error)!!1</title><style>"
            + "body{margin:0}" * 2000 + "</style><p><b>502.</b> That's an error.</p></html>")
    fake.fail("metadata", 502, times=2, body=page)
    with pytest.raises(SinkError, match=r"\(HTTP 502: Error 502 \(Server Error\)!!1\)") as err:
        make_sink(fake, info, attempts=2).plan(tasks_only())
    assert "<" not in str(err.value) and len(str(err.value)) < 200
    fake.fail("batchUpdate", 400, body=json.dumps({"error": {"code": 400, "message": "bad " * 5000}}))
    sink = make_sink(fake, info)
    with pytest.raises(SinkError, match=r"HTTP 400: bad bad .*\.\.\.\)") as err:
        sink.apply(sink.plan(tasks_only()), ["2026-01-01", "full"])
    assert len(str(err.value)) < 450
