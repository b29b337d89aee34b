"""Typed decoding of saved Jira pages: only the parts the mapping reads are built.

A search page of 100 issues carries each issue's embedded worklogs with their authors' avatars, links and comment
trees; a bulk changelog page carries every change's author. The mapping reads a handful of those fields, so a
replay decodes its pages with msgspec Structs that declare only them (msgspec skips the rest without building
anything) and hands the mapping the same dicts it would get, less the parts it never reads. A 100k-issue replay
then holds a third of the memory while mapping.

Leaf values are left untyped (`Any`): a wrong value is the mapping's to name, per record. A page whose *shape*
does not fit (a worklog that is not an object, an author given as text) is decoded in full instead (`None` from
`decode_page`), so the mapping's per-record checks see it exactly as the API sent it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

from syncer.sources.jira.settings import BASE_FIELDS, BULK_CHANGELOG_PATH, SEARCH_PATH

_SLIM = {"omit_defaults": True}  # an absent key stays absent in the dicts handed on, as in the page


class _Person(msgspec.Struct, **_SLIM):  # a user: `field_value` and the worklog mapping read these
    emailAddress: Any = None  # noqa: N815 (Jira's names)
    displayName: Any = None  # noqa: N815
    accountId: Any = None  # noqa: N815
    name: Any = None
    key: Any = None


class _Named(msgspec.Struct, **_SLIM):  # issuetype, parent, a status category
    id: Any = None
    key: Any = None
    name: Any = None


class _Status(msgspec.Struct, **_SLIM):
    id: Any = None
    name: Any = None
    statusCategory: _Named | None = None  # noqa: N815


class _Worklog(msgspec.Struct, **_SLIM):
    id: Any = None
    author: _Person | None = None
    updateAuthor: _Person | None = None  # noqa: N815
    started: Any = None
    timeSpentSeconds: Any = None  # noqa: N815


class _Worklogs(msgspec.Struct, **_SLIM):  # an issue's embedded `worklog` field, and a /worklog page
    total: Any = None
    worklogs: list[_Worklog] | None = None
    startAt: Any = None  # noqa: N815
    maxResults: Any = None  # noqa: N815


class _Item(msgspec.Struct, **_SLIM):
    field: Any = None
    fieldId: Any = None  # noqa: N815
    from_: Any = msgspec.field(default=None, name="from")
    fromString: Any = None  # noqa: N815
    to: Any = None
    toString: Any = None  # noqa: N815


class _History(msgspec.Struct, **_SLIM):
    id: Any = None
    created: Any = None
    items: list[_Item] | None = None


class _ChangeLog(msgspec.Struct, **_SLIM):
    issueId: Any = None  # noqa: N815
    changeHistories: list[_History] | None = None  # noqa: N815


class _BulkPage(msgspec.Struct, **_SLIM):
    issueChangeLogs: list[_ChangeLog] | None = None  # noqa: N815
    nextPageToken: Any = None  # noqa: N815
    isLast: Any = None  # noqa: N815


class _ChangelogPage(msgspec.Struct, **_SLIM):  # /issue/{key}/changelog
    values: list[_History] | None = None
    startAt: Any = None  # noqa: N815
    maxResults: Any = None  # noqa: N815
    total: Any = None
    isLast: Any = None  # noqa: N815
    nextPageToken: Any = None  # noqa: N815


# The system fields whose shape Jira documents, slimmed; every other field's value is taken whole.
_SYSTEM: dict[str, Any] = {"worklog": _Worklogs, "status": _Status, "issuetype": _Named, "parent": _Named,
                           "assignee": _Person, "reporter": _Person}
_FIXED = {BULK_CHANGELOG_PATH: msgspec.json.Decoder(_BulkPage | None)}
_CHANGELOG = msgspec.json.Decoder(_ChangelogPage | None)
_WORKLOG = msgspec.json.Decoder(_Worklogs | None)


@lru_cache(maxsize=32)
def _search_decoder(requested: tuple[str, ...]) -> msgspec.json.Decoder:
    """A search page's decoder for the fields it asked for (Jira returns those and no others)."""
    names = [*dict.fromkeys([*requested, *BASE_FIELDS])]
    fields = msgspec.defstruct("Fields", [(n, _SYSTEM[n] | None if n in _SYSTEM else Any, None) for n in names],
                               **_SLIM)
    issue = msgspec.defstruct("Issue", [("id", Any, None), ("key", Any, None), ("fields", fields | None, None)],
                              **_SLIM)
    page = msgspec.defstruct("SearchPage", [("issues", list[issue] | None, None), ("nextPageToken", Any, None),
                                            ("isLast", Any, None)], **_SLIM)
    return msgspec.json.Decoder(page | None)


def _requested(params: dict[str, Any]) -> tuple[str, ...] | None:
    """The field ids a search asked for, or None when it asked for a set Jira expands itself (`*all`)."""
    value = params.get("fields")
    names = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else None
    if not names or not all(isinstance(n, str) and n.strip() and n.strip()[0] not in "*-" for n in names):
        return None
    return tuple(n.strip() for n in names)


def _decoder(path: str, params: dict[str, Any]) -> msgspec.json.Decoder | None:
    if path == SEARCH_PATH:
        requested = _requested(params)
        return _search_decoder(requested) if requested else None
    if path.startswith("/rest/api/3/issue/") and path.endswith("/worklog"):
        return _WORKLOG
    if path.startswith("/rest/api/3/issue/") and path.endswith("/changelog"):
        return _CHANGELOG
    return _FIXED.get(path)


def decode_page(endpoint: str, params: dict[str, Any], data: bytes) -> Any | None:
    """The page's body as the mapping reads it, or None where it cannot be decoded slim (decode it in full)."""
    decoder = _decoder(endpoint.partition(" ")[2], params)
    if decoder is None:
        return None
    try:
        return msgspec.to_builtins(decoder.decode(data))
    except msgspec.DecodeError:  # a ValidationError too: not the documented shape, or not strict JSON
        return None
