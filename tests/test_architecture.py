"""The import rules of the layout: tracker -> sequences only, packages meet through their names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p.name for p in (ROOT / "sequences").iterdir() if (p / "__init__.py").exists())
CAPABILITIES = [p for p in PACKAGES if p not in ("migrations", "data")]


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module `path` imports, as absolute dotted names, with its line."""
    here = _module(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found.append((node.lineno, target))
    return found


def _capability(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] == "sequences" and len(parts) > 1 and parts[1] in CAPABILITIES:
        return parts[1]
    return None


def _sources(top: str) -> list[Path]:
    return sorted((ROOT / top).rglob("*.py"))


def test_the_engine_never_imports_the_web_app_or_flask() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {target}"
        for path in _sources("sequences")
        for line, target in _imports(path)
        # werkzeug.security (password hashes) is a library, not the web framework.
        if target.split(".")[0] in ("tracker", "flask")
    ]
    assert wrong == []


def test_packages_of_the_engine_meet_only_through_their_public_names() -> None:
    # A capability package's modules are its own business: from anywhere else (another
    # package, the core, the web app) only `sequences.<package>` itself is imported.
    wrong = []
    for top in ("sequences", "tracker"):
        for path in _sources(top):
            home = _capability(_module(path))
            for line, target in _imports(path):
                there = _capability(target)
                if there and there != home and target != f"sequences.{there}":
                    wrong.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert wrong == []


def test_every_capability_package_lists_its_public_names() -> None:
    for name in CAPABILITIES:
        tree = ast.parse((ROOT / "sequences" / name / "__init__.py").read_text())
        assert ast.get_docstring(tree), f"sequences/{name} needs a docstring saying what it holds"
        listed = [
            n
            for n in tree.body
            if isinstance(n, ast.Assign) and n.targets[0].id == "__all__"  # type: ignore[attr-defined]
        ]
        assert listed, f"sequences/{name}/__init__.py has no __all__"


def test_every_module_says_what_it_is_for() -> None:
    missing = [
        str(path.relative_to(ROOT))
        for top in ("sequences", "tracker")
        for path in _sources(top)
        if "migrations/versions" not in str(path)
        and path.stat().st_size
        and not ast.get_docstring(ast.parse(path.read_text()))
    ]
    assert missing == []


def _module_graph(top: str) -> dict[str, set[str]]:
    """Which of `top`'s modules each of its modules imports (a name that is a module counts as it)."""
    modules = {_module(path): path for path in _sources(top)}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        here = _module(path).split(".")
        if path.name != "__init__.py":
            here = here[:-1]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                graph[name] |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                target = ".".join([*base, *([node.module] if node.module else [])])
                for alias in node.names:
                    if f"{target}.{alias.name}" in modules:
                        graph[name].add(f"{target}.{alias.name}")
                    elif target in modules:
                        graph[name].add(target)
        graph[name].discard(name)
    return graph


def _loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_web_app_s_modules_never_import_each_other_in_a_loop() -> None:
    # A loop hides which module is the lower one; shared CLI helpers live in tracker/cli/common.py,
    # every error answer in tracker/errors.py, so nothing below needs to reach back up.
    assert _loops(_module_graph("tracker")) == []


def test_the_engine_s_modules_never_import_each_other_in_a_loop() -> None:
    # Imports inside functions count too: a loop hidden in a function is still a loop, only
    # one that fails at the call rather than the import. What follows an event (its webhook
    # outbox row, the lead status it implies) is wired from sequences/aftermath.py, above the
    # state machine, so enrollment and sending never reach up to webhooks or leads.
    assert _loops(_module_graph("sequences")) == []
