"""Print the structure figures of src/synthneg that the structure issue sets targets for.

Modules over 400 lines, functions over 60 lines (a nested function counts inside its parent too), function-level
imports, and import cycles between modules (strongly connected groups of the graph of every ``synthneg`` import
outside ``if TYPE_CHECKING:``, function-level ones included).

    python scripts/structure_report.py [--src src]
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path


def modules(src: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def import_graph(mods: dict[str, Path]) -> dict[str, set[str]]:
    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rsplit(".", 1)[0] if "." in name else ""
        return name

    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        typing_only = {
            id(sub)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for sub in ast.walk(node)
        }
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("synthneg"):
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module for a in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("synthneg")]
            for target in map(resolve, targets):
                if target and target != name:
                    edges[name].add(target)
    return edges


def cycles(nodes: list[str], edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for v in nodes:
        if v not in index:
            visit(v)
    return groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    args = parser.parse_args()
    mods = modules(args.src)
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in mods.items()}
    long_functions: list[tuple[int, str]] = []
    local_imports = 0
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > 60:
                    long_functions.append((n, f"{name}.{node.name}"))
                local_imports += sum(
                    isinstance(s, ast.Import | ast.ImportFrom) for s in ast.walk(node) if s is not node
                )
    big = sorted(((n, m) for m, n in sizes.items() if n > 400), reverse=True)
    print(f"modules: {len(mods)}; largest: {max(sizes.values())} lines; over 400 lines: {len(big)}")
    for n, m in big:
        print(f"  {n:4d}  {m}")
    print(f"functions over 60 lines: {len(long_functions)}")
    for n, f in sorted(long_functions, reverse=True):
        print(f"  {n:4d}  {f}")
    print(f"function-level imports: {local_imports}")
    groups = cycles(list(mods), import_graph(mods))
    print(f"import cycles: {len(groups)}")
    for group in groups:
        print("  " + " <-> ".join(group))


if __name__ == "__main__":
    main()
