"""The functional core stays pure: its modules import nothing that performs or schedules I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "mirrorsync"
PURE = (
    "catalog",
    "checksums",
    "errors",
    "filters",
    "manifest",
    "model",
    "naming",
    "offline",
    "pages",
    "paths",
    "plan",
    "report",
    "settings",
    "uvmeta",
)
BANNED = {
    "aiohttp",
    "asyncio",
    "logging",
    "os",
    "shutil",
    "socket",
    "subprocess",
    "tempfile",
    "tenacity",
    "tqdm",
    "yaml",
}
EDGE = {"cache", "cli", "client", "clients", "config", "fetch", "github", "lock", "ratelimit"}
EDGE |= {"retry", "s3", "serve", "source", "sync", "transfer", "tree", "verify"}


def imported_roots(module: str) -> set[str]:
    tree = ast.parse((PKG / f"{module}.py").read_text(encoding="utf-8"))
    roots = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    roots |= {
        n.module.split(".")[0]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.level == 0
    }
    return roots


def imported_mirrorsync_modules(module: str) -> set[str]:
    tree = ast.parse((PKG / f"{module}.py").read_text(encoding="utf-8"))
    found = {
        n.module.split(".")[1]
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("mirrorsync.")
    }
    found |= {
        a.name.split(".")[1]
        for n in ast.walk(tree)
        if isinstance(n, ast.Import)
        for a in n.names
        if a.name.startswith("mirrorsync.")
    }
    return found


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_no_io(module: str) -> None:
    """Pure core modules import nothing that performs or schedules I/O."""
    assert not imported_roots(module) & BANNED


@pytest.mark.parametrize("module", PURE)
def test_pure_module_imports_only_pure_modules(module: str) -> None:
    """Pure modules depend on other pure modules only, never on the shell."""
    assert imported_mirrorsync_modules(module) <= set(PURE)


def test_every_module_is_classified() -> None:
    """Each module of the package is named here as pure or edge, so new ones get a decision."""
    modules = {p.stem for p in PKG.glob("*.py")} - {"__init__", "__main__"}
    assert modules == set(PURE) | EDGE


def test_only_cli_reads_the_environment() -> None:
    """Only cli.py reads os.environ; everything else gets its settings passed in."""
    readers = {
        p.stem
        for p in PKG.glob("*.py")
        if "os.environ" in p.read_text(encoding="utf-8")
        or "getenv" in p.read_text(encoding="utf-8")
    }
    assert readers <= {"cli"}
