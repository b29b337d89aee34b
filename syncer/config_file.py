"""Reading the config file: UTF-8 text, YAML without duplicate keys or alias bombs, the line of every key, and
`${VAR}` filled in from the environment."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from syncer.errors import ConfigError

# A config has a few hundred YAML nodes. Aliases may repeat a block (the same `stages:` for two sources), but a tree
# that expands beyond this many nodes is refused before anything walks it: ten lines of nested aliases
# ("billion laughs") expand to billions, and every later step (variables, validation) would walk each copy.
MAX_NODES = 20_000
_MERGE = "tag:yaml.org,2002:merge"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(slots=True)
class ConfigText:
    """A parsed config file: its data, the problems found while reading it, and the line of each key path."""

    data: Any
    problems: list[str] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # `sources[0].url` -> 1-based line


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader that notes duplicate keys (the last one would silently win) instead of accepting them."""

    def __init__(self, stream: str, name: str):
        super().__init__(stream)
        self.name, self.duplicates = name, []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE or not isinstance(key_node, yaml.ScalarNode):
                continue  # `<<: *base` may be overridden by design; a complex key is refused by PyYAML itself
            key, line = self.construct_scalar(key_node), key_node.start_mark.line + 1
            if key in seen:
                self.duplicates.append(f"{self.name} line {line}: duplicate key {key!r} (first at line {seen[key]}); "
                                       "YAML would silently keep only the last one: remove or merge one of them")
            else:
                seen[key] = line
        return super().construct_mapping(node, deep)


def expanded_size(node: yaml.Node, limit: int = MAX_NODES) -> int:
    """The number of nodes the tree has once every alias is expanded; stops counting past `limit`."""
    sizes: dict[int, int] = {}

    def size(n: yaml.Node) -> int:
        if id(n) in sizes:
            if sizes[id(n)] < 0:
                raise ConfigError("the YAML refers to itself through an alias (a recursive structure)")
            return sizes[id(n)]
        sizes[id(n)] = -1
        total = 1
        for child in _children(n):
            total += size(child)
            if total > limit:
                break
        sizes[id(n)] = total
        return total

    return size(node)


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            yield k
            yield v
    elif isinstance(node, yaml.SequenceNode):
        yield from node.value


def key_lines(node: yaml.Node | None) -> dict[str, int]:
    """`key.path[0].name` -> line of that key (or item) in the file, for messages that name a key path."""
    out: dict[str, int] = {}

    def walk(n: yaml.Node, path: str, visited: set[int]) -> None:
        if id(n) in visited:  # an alias: its keys are already listed under the anchor
            return
        visited.add(id(n))
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != _MERGE:
                    sub = f"{path}.{k.value}" if path else str(k.value)
                    out.setdefault(sub, k.start_mark.line + 1)
                    walk(v, sub, visited)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                out.setdefault(f"{path}[{i}]", v.start_mark.line + 1)
                walk(v, f"{path}[{i}]", visited)

    if node is not None:
        walk(node, "", set())
    return out


def key_path(loc: tuple[Any, ...]) -> str:
    """('sources', 0, 'url') -> `sources[0].url`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def interpolate(node: Any, env: Mapping[str, str], loc: tuple, problems: list[str]) -> Any:
    """Replace `${VAR}` in every string; a missing variable is a problem at that key path."""
    if isinstance(node, dict):
        return {k: interpolate(v, env, (*loc, k), problems) for k, v in node.items()}
    if isinstance(node, list):
        return [interpolate(v, env, (*loc, i), problems) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:
        def sub(m: re.Match) -> str:
            if m.group(1) not in env:
                problems.append(f"{key_path(loc)}: environment variable {m.group(1)} is not set")
                return ""
            return env[m.group(1)]
        return _VAR.sub(sub, node)
    return node


def with_line(problem: str, lines: dict[str, int], path: Path) -> str:
    """`sources[0].url: ...` -> `sources[0].url: ... (syncer.yaml line 7)`: the key's line, else its parent's."""
    if problem.startswith(str(path)):
        return problem  # a problem of the file itself already names its line
    where = problem.split(": ", 1)[0]
    while where and where not in lines:
        where = where[: max(where.rfind("."), where.rfind("["), 0)]
    return f"{problem} ({path} line {lines[where]})" if where else problem


def decode_config(raw: bytes, name: str) -> str:
    """The file's text (UTF-8, with or without a BOM); any other encoding is a ConfigError naming line and byte."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        column = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(f"{name} line {line}, column {column}: byte 0x{raw[e.start]:02x} is not UTF-8 text; save the "
                          "file as UTF-8 (editors call it 'UTF-8' or 'Unicode')") from None


def read_config_file(path: Path) -> ConfigText:
    """Parse the config file. Unreadable, not UTF-8, not YAML, too deep or too large once aliases are expanded:
    ConfigError (nothing else can be checked); duplicate keys: listed in `problems` beside the others."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror})") from None
    loader = _Loader(decode_config(raw, str(path)), str(path))
    try:
        node = loader.get_single_node()
        if node is not None and expanded_size(node) > MAX_NODES:
            raise ConfigError(f"{path}: the YAML expands to more than {MAX_NODES:,} values through aliases (& and *); "
                              "a config needs a few hundred: write the repeated parts out")
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None
    except RecursionError:
        raise ConfigError(f"{path}: the YAML is nested too deeply to be a config") from None
    finally:
        loader.dispose()
    return ConfigText(data, list(loader.duplicates), key_lines(node))
