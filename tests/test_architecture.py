"""The house rules, checked on the source: the import graph has no cycle and runs downhill, no import hides in a
function, no module or function outgrows a screen, and nothing probes an adapter with hasattr."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "syncer"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

# Lower layers never import higher ones; sources and sinks never import each other.
LAYERS = {"domain": 1, "sources": 2, "sinks": 2, "pipeline": 3, "ops": 4, "cli": 5, "__main__": 5}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(encoding="utf-8")) for p in sorted(PACKAGE.rglob("*.py"))}


def imported(mod: str, node: ast.AST, known: set[str]) -> set[str]:
    """The syncer modules an import statement brings in (a `from package import module` counts the module)."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name.split(".")[0] in ("syncer", "demo")}
    if not isinstance(node, ast.ImportFrom) or node.module is None or node.level:
        return set()
    if node.module.split(".")[0] not in ("syncer", "demo"):
        return set()
    out = {node.module}
    out |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known}
    return out


def layer(mod: str) -> tuple[int, str]:
    part = mod.split(".")[1] if "." in mod else ""
    return LAYERS.get(part, 0), part


def graph() -> dict[str, set[str]]:
    tree = modules()
    known = set(tree)
    return {mod: {m for n in ast.walk(t) for m in imported(mod, n, known)} for mod, t in tree.items()}


def test_the_import_graph_has_no_cycle():
    edges = graph()
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(edges.get(m, ())):
            if n not in edges:
                continue
            assert state.get(n) != 1, f"import cycle: {' -> '.join([*path[path.index(n):], n])}"
            if n not in state:
                visit(n)
        path.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            visit(m)


def test_imports_run_downhill():
    for mod, targets in graph().items():
        rank, part = layer(mod)
        for target in targets:
            assert not target.startswith("demo"), f"{mod} imports the demo generator ({target})"
            if target == "syncer" or not target.startswith("syncer"):
                continue
            t_rank, t_part = layer(target)
            assert t_rank <= rank, f"{mod} (layer {part or 'base'}) imports {target} from a layer above"
            if rank == t_rank == 2:
                assert part == t_part, f"{mod} imports {target}: sources and sinks do not import each other"


def test_no_import_hides_inside_a_function():
    for mod, tree in modules().items():
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            hidden = [m for n in ast.walk(fn) for m in imported(mod, n, set())]
            assert not hidden, f"{mod}.{fn.name} imports {hidden} inside the function"


def test_modules_and_functions_fit_a_screen():
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert text.count("\n") <= MAX_MODULE_LINES, f"{path.relative_to(PACKAGE.parent)} is over {MAX_MODULE_LINES}"
        for fn in (n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            length = fn.end_lineno - fn.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{path.name}:{fn.lineno} {fn.name} is {length} lines"


def test_nothing_probes_an_object_with_hasattr():
    found = [f"{p.relative_to(PACKAGE.parent)}:{i}" for p in sorted(PACKAGE.rglob("*.py"))
             for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if "hasattr(" in line]
    assert found == []


def test_the_rules_see_a_violation():
    """The checks above are not vacuous: a planted upward import and a hidden one are found."""
    planted = ast.parse("from syncer.ops.daemon import serve\ndef f():\n    from syncer.pipeline import run_sync\n")
    found = {m for n in ast.walk(planted) for m in imported("syncer.domain.x", n, set())}
    assert found == {"syncer.ops.daemon", "syncer.pipeline"}
    assert layer("syncer.ops.daemon")[0] > layer("syncer.domain.x")[0]
