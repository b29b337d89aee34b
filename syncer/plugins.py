"""Built-in and entry-point adapters by config `kind` (other packages add sources and sinks by entry point)."""

from __future__ import annotations

from collections.abc import Mapping
from importlib import import_module
from importlib.metadata import entry_points


def load_ref(ref: str) -> object:
    """`package.module:Name` -> the object."""
    module, _, attr = ref.partition(":")
    return getattr(import_module(module), attr)


def registry(group: str, builtin: Mapping[str, str]) -> dict[str, str]:
    """The built-in references, plus those a package registers under the entry point `group`."""
    found = dict(builtin)
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep.value)
    return found
