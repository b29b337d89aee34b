"""Jira field values reduced to the canonical model's scalars (`jira.values`), each worked out by hand."""

from __future__ import annotations

from syncer.sources.jira.values import adf_text, field_value

DOC = {"type": "doc", "version": 1, "content": [
    {"type": "heading", "attrs": {"level": 2}, "content": [{"type": "text", "text": "Goal"}]},
    {"type": "paragraph", "content": [
        {"type": "text", "text": "Ask "}, {"type": "mention", "attrs": {"id": "5b10", "text": "@Ana Silva"}},
        {"type": "text", "text": " by "}, {"type": "date", "attrs": {"timestamp": "1767225600000", "text": "1 Jan"}},
        {"type": "hardBreak"}, {"type": "emoji", "attrs": {"shortName": ":rocket:"}},
        {"type": "status", "attrs": {}}, {"type": "inlineCard", "attrs": {"url": "https://x"}}]},
    {"type": "bulletList", "content": [
        {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "one"}]}]},
        {"type": "listItem", "content": [{"type": "paragraph", "content": [{"type": "text", "text": "two"}]}]}]},
    {"type": "rule"},
    {"type": "codeBlock", "content": [{"type": "text", "text": "x = 1"}]},
    {"type": "panel", "content": "stray text", "attrs": {}},  # a string where content belongs is its text
    {"type": "paragraph", "content": None},
    7,
]}


def test_adf_text_keeps_the_words_line_breaks_and_inline_labels_of_a_document():
    # A block ends its line (a list item's paragraph and the item each do); inline nodes give their label; an
    # inline card without text gives nothing; what is not a node gives nothing.
    assert adf_text(DOC) == ("Goal\nAsk @Ana Silva by 1 Jan\n:rocket:\none\n\ntwo\n\n\nx = 1\nstray text\n")
    assert adf_text("plain") == "plain" and adf_text(None) == "" and adf_text([DOC["content"][0], "!"]) == "Goal\n!"


def test_field_value_reduces_a_document_to_its_trimmed_text_and_options_users_and_lists_to_text():
    assert field_value(DOC).startswith("Goal\nAsk") and field_value(DOC).endswith("stray text")
    assert field_value({"type": "doc", "content": [{"type": "paragraph", "content": []}]}) is None
    assert field_value({"value": "Events", "id": "1"}) == "Events"
    assert field_value({"emailAddress": "", "displayName": "Ana Silva"}) == "Ana Silva"
    assert field_value([{"value": "A"}, None, {"value": ""}, "B"]) == "A, B"
    assert field_value(3.5) == 3.5 and field_value(None) is None and field_value({"self": "x"}) is None


def test_a_node_of_an_unknown_kind_gives_its_content_whatever_its_type_is_given_as():
    odd = {"type": "doc", "content": [{"type": ["paragraph"], "content": [{"type": "text", "text": "hi"}]},
                                      {"type": {"k": 1}, "content": [{"type": "text", "text": "!"}]}]}
    assert field_value(odd) == "hi!"
