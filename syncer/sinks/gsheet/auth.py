"""Google sign-in for the gsheet sink, and Google's failures turned into syncer's errors (ConfigError exits 2,
SinkError exits 1), naming the service account and never echoing its key."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gspread
import requests
from google.auth.exceptions import GoogleAuthError, RefreshError
from gspread.exceptions import APIError

from syncer.errors import ConfigError, SinkError
from syncer.retry import Verdict, classify, status_of

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]  # this sheet's API only, not the user's whole Drive
TIMEOUT = (10, 120)  # connect, read (s): a hung connection must end in a retry, not hang the cron job
MAX_MESSAGE = 300  # characters of Google's error text quoted in an error


def load_service_account(credentials: str) -> dict[str, Any]:
    """A service-account key from `sink.credentials` (the JSON itself or a path); never echoes the value."""
    text = credentials.strip()
    where = "sink.credentials"
    if not text.startswith("{"):
        try:
            path = Path(text).expanduser()
            text = path.read_text(encoding="utf-8") if text and path.is_file() else ""
        except (OSError, UnicodeDecodeError):
            text = ""
        if not text:
            raise ConfigError(f"{where}: neither a service-account JSON key nor the path of a readable key file")
        where = f"{where} (the key file)"
    try:
        info = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(info, dict) or info.get("type") != "service_account":
        raise ConfigError(f'{where}: not a service-account key (expected "type": "service_account"); create a '
                          "JSON key under Google Cloud console > IAM > Service accounts > Keys")
    missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
    if missing:
        raise ConfigError(f"{where}: the key has no {', '.join(missing)}; download a new JSON key")
    return info


def service_account_client(credentials: str) -> tuple[gspread.Client, str]:
    """A gspread client signed in as the service account of `sink.credentials` (the Sheets scope only, the
    request TIMEOUT), and that account's email; no request yet."""
    info = load_service_account(credentials)
    email = str(info["client_email"])
    try:
        client = gspread.service_account_from_dict(info, scopes=SCOPES)
    except (ValueError, GoogleAuthError):
        raise ConfigError(f"sink.credentials: the private key of service account {email} cannot be read; "
                          "download a new JSON key for it") from None
    client.set_timeout(TIMEOUT)
    return client, email


def sheets_error(what: str, exc: APIError | GoogleAuthError | requests.RequestException, *, email: str,
                 spreadsheet_id: str, attempts: int) -> ConfigError | SinkError:
    """The error a failed Sheets request (`what`, after the retry policy's `attempts`) ends in.

    Credentials and sharing problems are ConfigError; an outage or an unreachable Google is SinkError.
    """
    if isinstance(exc, APIError):
        return _api_error(what, exc, email=email, spreadsheet_id=spreadsheet_id, attempts=attempts)
    if isinstance(exc, RefreshError):
        reason = shorten(exc.args[0]) if exc.args and isinstance(exc.args[0], str) else type(exc).__name__
        if exc.retryable:
            return SinkError(f"Google sign-in for {email} failed for now ({reason}); try again")
        return ConfigError(f"sink.credentials: Google rejected the key of service account {email} ({reason}); "
                           "the key may be deleted or disabled: create a new JSON key for it")
    return SinkError(f"cannot reach Google Sheets for the {what} ({type(exc).__name__})")


def _api_error(what: str, exc: APIError, *, email: str, spreadsheet_id: str, attempts: int) -> ConfigError | SinkError:
    status, said = status_of(exc), error_summary(exc)
    if status == 401:  # a token Google issued and then refused: the key or the account is gone
        return ConfigError(f"sink.credentials: Google Sheets rejected the sign-in of service account {email} "
                           f"({said}); its key may have been deleted or disabled: create a new JSON key for it")
    if status == 403 and "SERVICE_DISABLED" in str(exc.error):  # the reason of the error's ErrorInfo detail
        return ConfigError(f"sink: the Google Sheets API is not enabled in the Google Cloud project of service "
                           f"account {email} ({said}); enable it (Google Cloud console > APIs & Services > "
                           "Library > Google Sheets API), wait a few minutes and run again")
    if classify(exc) is Verdict.CONFIG or status == 404:
        return ConfigError(
            f"sink: Google Sheets refused the {what} of spreadsheet {spreadsheet_id} ({said}). Share the sheet with "
            f"the service account {email} as an Editor (Share button in the sheet) and check sink.spreadsheet_id"
        )
    again = f" still failing after {attempts} attempts" if classify(exc) is Verdict.RETRY else " failed"
    return SinkError(f"Google Sheets {what}{again} ({said}); nothing more was written")


def error_summary(exc: BaseException) -> str:
    """An error as `HTTP 503: Google's message`, cut short (an HTML page reduced to its title), or its type."""
    if not isinstance(exc, APIError):
        return type(exc).__name__
    text = str(exc.error.get("message", "")) if isinstance(exc.error, Mapping) else ""
    if text.lstrip().startswith("<"):  # a proxy's or Google's front end's HTML page, not the API's JSON
        title = re.search(r"<title>(.*?)</title>", text, re.I | re.S)
        text = title[1] if title else re.sub(r"<(style|script)\b.*?</\1>|<[^>]*>", " ", text, flags=re.I | re.S)
    text = shorten(text)
    return f"HTTP {status_of(exc)}" + (f": {text}" if text else "")


def shorten(text: str) -> str:
    """`text` on one line, cut to MAX_MESSAGE characters."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."
