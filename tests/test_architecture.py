"""The layout rules of docs/architecture.md, checked on every module so that a new one cannot slip past.

* the core (``township``) imports no screen or web framework, module by module;
* no import cycle between packages (the core's subpackages and the top-level ones);
* no core module over 500 lines;
* no work at import time in the core: no transformer, spatial tree or engine built at module level;
* no file points at a document the repository does not have (the design note outside it).
"""
from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "township"
#: Top-level packages and modules of the project; the core counts by subpackage.
TOP = ("app", "api", "auth", "bench", "callbacks", "downloads", "geodata", "layers", "ui", "township", "field")
SCREEN = ("dash", "dash_ag_grid", "flask", "flask_compress", "werkzeug", "plotly", "folium")
MAX_LINES = 500


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _core_modules() -> list[Path]:
    return sorted(p for p in CORE.rglob("*.py") if "__pycache__" not in p.parts)


def _project_files() -> list[Path]:
    out = []
    for name in TOP:
        target = ROOT / name
        out += [target.with_suffix(".py")] if not target.is_dir() else \
            [p for p in target.rglob("*.py") if "__pycache__" not in p.parts]
    return [p for p in out if p.exists()]


def _package(module: str) -> str:
    """The unit of the cycle check: ``township.<sub>`` for the core, else the top-level name."""
    parts = module.split(".")
    if parts[0] == "township":
        return ".".join(parts[:2]) if len(parts) > 1 else "township"
    return parts[0]


def _imports(path: Path) -> set[str]:
    """Absolute names of the project's modules that ``path`` imports (at any depth of the file)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = _module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}
    return {m for m in out if m.split(".")[0] in TOP}


def test_every_core_module_imports_no_screen_or_web_framework():
    modules = [_module_name(p) for p in _core_modules() if p.name != "__main__.py"]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {SCREEN!r})\n"
            "assert not bad, bad\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(modules) > 30  # every module was imported, not a handful


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
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
                out.append(sorted(comp))

    for v in list(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle_between_packages():
    edges: dict[str, set[str]] = defaultdict(set)
    why: dict[tuple[str, str], str] = {}
    for path in _project_files():
        src = _package(_module_name(path))
        for mod in _imports(path):
            dst = _package(mod)
            if dst != src and dst != "township":
                edges[src].add(dst)
                why.setdefault((src, dst), f"{path.relative_to(ROOT)} imports {mod}")
    cycles = _cycles(edges)
    detail = [[why[(a, b)] for a in c for b in c if (a, b) in why] for c in cycles]
    assert not cycles, detail
    # the check sees the layers: the screen depends on the core, never the reverse
    assert "township.domain" in edges["layers"] | edges["ui"] | edges["callbacks"]
    assert not any(p.split(".")[0] != "township" for src, dst in edges.items() if src.startswith("township")
                   for p in dst)


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: str(p.relative_to(CORE)))
def test_core_module_is_short(path: Path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES}): split it by concern"


#: Calls that do real work and must not run when a module is imported.
_HEAVY = {"from_crs", "Transformer", "STRtree", "create_engine", "make_engine", "read_file", "Township"}


def _call_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    return None


def test_core_does_no_work_at_import():
    found = []
    for path in _core_modules():
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            values = [node.value] if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Expr)) and node.value else []
            for value in values:
                for sub in ast.walk(value):
                    if _call_name(sub) in _HEAVY:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} calls {_call_name(sub)} at import")
    assert not found, found


#: The shared design note the code once cited; spelt in two parts so that this file does not cite it.
DOC = "DESIGN" + ".md"


def test_no_file_points_at_a_document_the_repository_does_not_have():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    if not tracked:  # not a git checkout (an unpacked archive): look at the files on disk
        tracked = [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file() and ".venv" not in p.parts]
    hits = []
    for name in tracked:
        path = ROOT / name
        if path.suffix not in {".py", ".md", ".ini", ".toml", ".sh", ".js", ".css", ".txt"} or not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if DOC in text:
            hits.append(name)
    assert not hits, f"these cite {DOC}, which is not in the repository (cite docs/architecture.md): {hits}"
