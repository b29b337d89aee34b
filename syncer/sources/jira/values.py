"""Jira field values reduced to what the canonical model holds: options to their value, users to a name, ADF to
plain text."""

from __future__ import annotations

from typing import Any


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format tree (Jira v3 rich text)."""
    if isinstance(node, str):
        return node
    parts: list[str] = []
    _adf_parts(node, parts)
    return "".join(parts)


_BLOCKS = frozenset({"paragraph", "heading", "listItem", "codeBlock", "blockquote", "rule"})
_INLINE_ATTRS = frozenset({"mention", "emoji", "status", "date"})


def _adf_parts(node: Any, parts: list[str]) -> None:
    """Append the text of `node` to `parts`: a text node its text, a block its content and a line break."""
    if isinstance(node, list):
        for n in node:
            _adf_parts(n, parts)
        return
    if isinstance(node, str):
        parts.append(node)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind == "text":
        parts.append(node.get("text", ""))
    elif kind == "hardBreak":
        parts.append("\n")
    elif kind in _INLINE_ATTRS:
        attrs = node.get("attrs") or {}
        parts.append(str(attrs.get("text") or attrs.get("shortName") or ""))
    else:
        _adf_parts(node.get("content", []), parts)
        if kind in _BLOCKS:
            parts.append("\n")


def field_value(value: Any) -> Any:
    """A Jira field value reduced to a scalar: options to their value, users to email or name, ADF to text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, list):
        parts = [field_value(v) for v in value]
        return ", ".join(str(p) for p in parts if p not in (None, "")) or None
    if isinstance(value, dict):
        if value.get("type") == "doc":
            return adf_text(value).strip() or None
        for key in ("value", "emailAddress", "displayName", "name", "key"):
            if value.get(key) not in (None, ""):
                return value[key]
    return None
