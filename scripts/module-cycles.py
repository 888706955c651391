#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a circle (issue 14).

Each .rs file under crates/*/src (and python/src) is a module; `foo/mod.rs` is module `foo`.
An edge A -> B is a path in A that names B: `crate::b::...`, `super::b` (relative to A's
parent), or `self::b` below A. A path to an item of a parent module (`super::Thing`, a
re-export) is an edge to that parent only when the parent is not an ancestor of A: a module
may use what its parent re-exports, as Rust code does everywhere. Test code counts like any
other code. Prints every strongly connected set of two or more modules and exits 1 if any.

Usage: scripts/module-cycles.py [CRATE_SRC_DIR...]   (default: every crate's src/)
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")


def module_of(src: Path, file: Path) -> tuple:
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def strip_comments(text: str) -> str:
    # line comments (doc comments included: links there are not imports)
    return re.sub(r"//[^\n]*", "", text)


def edges(src: Path):
    modules = {module_of(src, f): f for f in src.rglob("*.rs")}
    graph = {m: set() for m in modules}
    for m, f in modules.items():
        for root, rest in PATH.findall(strip_comments(f.read_text())):
            names = rest.split("::")[1:]
            if root == "crate":
                base = ()
            elif root == "self":
                base = m
            else:  # `super` is the parent module; each further `super` one more up
                base = m[:-1]
                while names and names[0] == "super":
                    base, names = base[:-1], names[1:]
            # the longest module prefix the path names
            target = base
            for n in names:
                if target + (n,) in modules:
                    target = target + (n,)
                else:
                    break
            if target == m or m[: len(target)] == target:
                continue  # itself, or an ancestor (re-exports)
            graph[m].add(target)
    return graph


def cycles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            visit(v)
    return out


def main():
    root = Path(__file__).resolve().parent.parent
    dirs = [Path(a) for a in sys.argv[1:]] or sorted(
        p for p in list(root.glob("crates/*/src")) + [root / "python/src"] if p.is_dir()
    )
    bad = 0
    for src in dirs:
        for comp in cycles(edges(src)):
            bad += 1
            names = sorted("::".join(m) or "(crate root)" for m in comp)
            print(f"{src}: modules in a cycle: {', '.join(names)}")
    if bad:
        sys.exit(1)
    print(f"no module cycles in {len(dirs)} crates")


if __name__ == "__main__":
    main()
