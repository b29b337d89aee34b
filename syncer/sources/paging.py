"""The one paging loop: follow the token each page names until there is none, never the same token twice."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import TypeVar

from syncer.errors import SourceError

Token = TypeVar("Token", bound=Hashable)
Body = TypeVar("Body")


def follow(
    fetch: Callable[[Token | None], Body], next_token: Callable[[Body], Token | None], what: str,
    first: Token | None = None, word: str = "page token",
) -> Iterator[tuple[Token | None, Body]]:
    """(token sent, body) of every page from `first` on. `next_token` reads the next token off a body (None: the
    last page). A token sent before would page in a circle forever, so it stops the read with a SourceError."""
    token, seen = first, set()
    while True:
        seen.add(token)
        body = fetch(token)
        yield token, body
        token = next_token(body)
        if token is None:
            return
        if token in seen:
            raise SourceError(f"{what}: the server handed out the same {word} twice; stopped paging instead of "
                              "looping (try again later; report it to the vendor's support if it persists)")
