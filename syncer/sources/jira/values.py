"""Jira field values reduced to what the canonical model holds: options to their value, users to a name, ADF to
plain text."""

from __future__ import annotations

from typing import Any


def adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format tree (Jira v3 rich text)."""
    if isinstance(node, str):
        return node
    if isinstance(node, list):
        return "".join(adf_text(n) for n in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return node.get("text", "")
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date"):
        attrs = node.get("attrs") or {}
        return str(attrs.get("text") or attrs.get("shortName") or "")
    inner = adf_text(node.get("content", []))
    block = kind in ("paragraph", "heading", "listItem", "codeBlock", "blockquote", "rule")
    return inner + "\n" if block else inner


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
