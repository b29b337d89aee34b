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

import keyword
from functools import lru_cache
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from syncer.sources.jira.settings import BASE_FIELDS, BULK_CHANGELOG_PATH, SEARCH_PATH
from syncer.sources.shapes import decoded_slim

# A key the page leaves out stays out of the dicts handed on (UNSET is not written), and a null stays a null: the
# mapping tells the two apart (`item.get("fieldId", item.get("field"))`).
Opt = Any | UnsetType


class _Person(msgspec.Struct):  # a user: `field_value` and the worklog mapping read these
    self_: Opt = msgspec.field(default=UNSET, name="self")  # every real user has it: an author is never empty
    emailAddress: Opt = UNSET  # noqa: N815 (Jira's names)
    displayName: Opt = UNSET  # noqa: N815
    accountId: Opt = UNSET  # noqa: N815
    name: Opt = UNSET
    key: Opt = UNSET


class _Named(msgspec.Struct):  # issuetype, parent, a status category
    id: Opt = UNSET
    key: Opt = UNSET
    name: Opt = UNSET


class _Status(msgspec.Struct):
    id: Opt = UNSET
    name: Opt = UNSET
    statusCategory: _Named | None | UnsetType = UNSET  # noqa: N815


class _Worklog(msgspec.Struct):
    id: Opt = UNSET
    author: _Person | None | UnsetType = UNSET
    updateAuthor: _Person | None | UnsetType = UNSET  # noqa: N815
    started: Opt = UNSET
    timeSpentSeconds: Opt = UNSET  # noqa: N815


class _Worklogs(msgspec.Struct):  # an issue's embedded `worklog` field, and a /worklog page
    total: Opt = UNSET
    worklogs: list[_Worklog] | None | UnsetType = UNSET
    startAt: Opt = UNSET  # noqa: N815
    maxResults: Opt = UNSET  # noqa: N815


class _Item(msgspec.Struct):
    field: Opt = UNSET
    fieldId: Opt = UNSET  # noqa: N815
    from_: Opt = msgspec.field(default=UNSET, name="from")
    fromString: Opt = UNSET  # noqa: N815
    to: Opt = UNSET
    toString: Opt = UNSET  # noqa: N815


class _History(msgspec.Struct):
    id: Opt = UNSET
    created: Opt = UNSET
    items: list[_Item] | None | UnsetType = UNSET


class _ChangeLog(msgspec.Struct):
    issueId: Opt = UNSET  # noqa: N815
    changeHistories: list[_History] | None | UnsetType = UNSET  # noqa: N815


class _BulkPage(msgspec.Struct):
    issueChangeLogs: list[_ChangeLog] | None | UnsetType = UNSET  # noqa: N815
    nextPageToken: Opt = UNSET  # noqa: N815
    isLast: Opt = UNSET  # noqa: N815


class _ChangelogPage(msgspec.Struct):  # /issue/{key}/changelog
    values: list[_History] | None | UnsetType = UNSET
    startAt: Opt = UNSET  # noqa: N815
    maxResults: Opt = UNSET  # noqa: N815
    total: Opt = UNSET
    isLast: Opt = UNSET  # noqa: N815
    nextPageToken: Opt = UNSET  # noqa: N815


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
    fields = msgspec.defstruct("Fields", [(n, _SYSTEM[n] | None | UnsetType if n in _SYSTEM else Opt, UNSET)
                                          for n in names])
    issue = msgspec.defstruct("Issue", [("id", Opt, UNSET), ("key", Opt, UNSET),
                                        ("fields", fields | None | UnsetType, UNSET)])
    page = msgspec.defstruct("SearchPage", [("issues", list[issue] | None | UnsetType, UNSET),
                                            ("nextPageToken", Opt, UNSET), ("isLast", Opt, UNSET)])
    return msgspec.json.Decoder(page | None)


def _requested(params: dict[str, Any]) -> tuple[str, ...] | None:
    """The field ids a search asked for, or None when it asked for a set Jira expands itself (`*all`)."""
    value = params.get("fields")
    names = value.split(",") if isinstance(value, str) else value if isinstance(value, list) else None
    if not names or not all(isinstance(n, str) and _plain(n.strip()) for n in names):
        return None  # `*all`, `-description`, or a name no Struct field can have: decoded whole
    return tuple(n.strip() for n in names)


def _plain(name: str) -> bool:
    """A field id a Struct can declare as it is (Jira's ids are: `summary`, `customfield_10042`)."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_")


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
    return decoded_slim(_decoder(endpoint.partition(" ")[2], params), data)
