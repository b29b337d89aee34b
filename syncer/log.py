"""Logging set-up with a filter that masks every configured secret, wherever it would appear."""

from __future__ import annotations

import base64
import json
import logging
import sys
from collections.abc import Iterable
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

MASK = "***"


class RedactFilter(logging.Filter):
    """Replaces secret values in a record's final message (args included) with ***."""

    def __init__(self, secrets: Iterable[str]):
        super().__init__()
        variants = set()
        for s in secrets:
            if s:
                # As written, stripped, and as repr() shows it (escaped newlines in "Invalid header value b'...\\n'").
                variants |= {s, s.strip(), repr(s)[1:-1], repr(s.strip())[1:-1]}
        self.secrets = sorted({v for v in variants if len(v) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self.secrets:
            text = text.replace(s, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg, record.args = self.redact(msg), None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def clip(text: str, secrets: Iterable[str], limit: int | None = None) -> str:
    """`text` with `secrets` masked, then cut to `limit` characters (cut first, a secret across the cut would be
    printed minus its last characters, which no later redaction recognises)."""
    return RedactFilter(secrets).redact(text)[:limit]


def basic_auth(user: str, secret: str) -> str:
    """The base64 `user:secret` an HTTP Basic header carries: a secret in another form."""
    return base64.b64encode(f"{user}:{secret}".encode()).decode()


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (click's test runner and pytest swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def secrets_of(model: BaseModel) -> list[str]:
    """Every SecretStr value in a config tree (tokens, credentials)."""
    found: list[str] = []

    def walk(v: object) -> None:
        if isinstance(v, SecretStr):
            found.append(v.get_secret_value())
        elif isinstance(v, BaseModel):
            for name in type(v).model_fields:
                walk(getattr(v, name))
        elif isinstance(v, list | tuple):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)

    walk(model)
    found.extend(_derived(model))
    return found


def _derived(cfg: BaseModel) -> list[str]:
    """Secrets that travel in another form: Jira's basic-auth header, a service account's private key, a URL's
    password."""
    out: list[str] = []
    for src in getattr(cfg, "sources", []) or []:
        email, token = getattr(src, "email", None), getattr(src, "token", None)
        if email and isinstance(token, SecretStr):
            out.append(basic_auth(email, token.get_secret_value()))
    for sink in getattr(cfg, "sink_configs", None) or []:
        out += sink_secrets(getattr(sink, "credentials", None))
    return out


def sink_secrets(creds: object) -> list[str]:
    """A service account's key inside its JSON; a URL's password (postgresql://user:password@host/db)."""
    if not isinstance(creds, SecretStr):
        return []
    text, out = creds.get_secret_value(), []
    if "://" in text:
        out.append(urlsplit(text).password or "")
    try:
        info = json.loads(text)
    except ValueError:
        info = None  # a path: the file's content never reaches a message
    if isinstance(info, dict):
        key = str(info.get("private_key", ""))
        out += [str(info.get("private_key_id", "")), key]
        out += [line for line in key.splitlines() if len(line) >= 16 and "PRIVATE KEY" not in line]
    return out


def setup_logging(verbose: bool, secrets: Iterable[str] = ()) -> RedactFilter:
    """Log to stderr (INFO, or DEBUG with -v) through the redacting filter; returns the filter."""
    root = logging.getLogger()
    redact = RedactFilter(secrets)
    handler = next((h for h in root.handlers if getattr(h, "_syncer", False)), None)
    if handler is None:
        handler = _StderrHandler()
        handler._syncer = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    for h in root.handlers:  # every handler, so no order of handlers lets a raw record through
        h.filters = [f for f in h.filters if not isinstance(f, RedactFilter)] + [redact]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    return redact
