"""The package map is a contract: layers import downwards only, and the core stays pure.

The rules are stated once per package, in each package's docstring; this file checks them. A new
module needs no entry here: it inherits its package's rules. A new package must be given a layer.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "mirrorsync"

LAYERS: tuple[frozenset[str], ...] = (
    frozenset({"mirrorsync", "mirrorsync.errors"}),
    frozenset({"mirrorsync.config.records"}),
    frozenset({"mirrorsync.core"}),
    frozenset({"mirrorsync.config"}),
    frozenset({"mirrorsync.net", "mirrorsync.targets"}),
    frozenset({"mirrorsync.upstream", "mirrorsync.publish"}),
    frozenset({"mirrorsync.commands"}),
    frozenset({"mirrorsync.cli"}),
    frozenset({"mirrorsync.__main__"}),
)
"""Lowest first. A module may import its own package and any unit of a lower layer, nothing else."""

PURE = frozenset(
    {
        "mirrorsync.core",
        "mirrorsync.errors",
        "mirrorsync.config.records",
        "mirrorsync.publish.pages",
        "mirrorsync.publish.scripts",
        "mirrorsync.commands.documents",
        "mirrorsync.net.policy",
    }
)
"""Units (packages or modules) that perform no I/O: the functional core, the renderers, and the
HTTP policy both transports follow."""

BANNED = {
    "aiohttp",
    "asyncio",
    "http.client",
    "http.server",
    "logging",
    "os",
    "shutil",
    "socket",
    "subprocess",
    "tempfile",
    "tenacity",
    "threading",
    "tqdm",
    "urllib.request",
    "yaml",
}


def modules() -> Iterator[str]:
    for path in sorted(PKG.rglob("*.py")):
        parts = path.relative_to(PKG.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts)


def source(module: str) -> ast.Module:
    base = PKG.parent.joinpath(*module.split("."))
    path = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
    return ast.parse(path.read_text(encoding="utf-8"))


def imports(module: str) -> set[str]:
    """Every absolute name ``module`` imports (``from a import b`` gives ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(source(module)):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def unit_of(name: str, units: frozenset[str]) -> str | None:
    """The longest unit in ``units`` that is ``name`` or contains it."""
    best = None
    for unit in units:
        if (name == unit or name.startswith(unit + ".")) and (
            best is None or len(unit) > len(best)
        ):
            best = unit
    return best


ALL_UNITS = frozenset().union(*LAYERS)


def layer_of(name: str) -> int:
    unit = unit_of(name, ALL_UNITS)
    assert unit is not None, f"{name} belongs to no layer: give its package one in LAYERS"
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


@pytest.mark.parametrize("module", list(modules()))
def test_module_imports_only_its_package_and_lower_layers(module: str) -> None:
    """No module imports upwards, nor sideways into another package of its own layer."""
    own_unit = unit_of(module, ALL_UNITS)
    own = layer_of(module)
    for name in imports(module):
        if not name.startswith("mirrorsync") or name == "mirrorsync.__version__":
            continue
        unit = unit_of(name, ALL_UNITS)
        assert unit == own_unit or layer_of(name) < own, f"{module} imports {name}"


@pytest.mark.parametrize("module", [m for m in modules() if unit_of(m, PURE)])
def test_pure_module_imports_no_io(module: str) -> None:
    """Pure units import nothing that performs or schedules I/O, and only other pure units."""
    for name in imports(module):
        assert not any(name == b or name.startswith(b + ".") for b in BANNED), (
            f"{module} imports {name}"
        )
        if name.startswith("mirrorsync.") and name != "mirrorsync.__version__":
            assert unit_of(name, PURE) is not None, f"pure {module} imports {name}"


def test_every_package_has_a_layer() -> None:
    """Each package and top-level module is placed in a layer, so a new one gets a decision."""
    for module in modules():
        layer_of(module)


def test_every_package_states_its_contract() -> None:
    """Each subpackage's docstring says what it may import: the rule is written where it applies."""
    for init in sorted(PKG.glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        assert "Contract" in doc, f"{init.parent.name}/__init__.py states no contract"


ENVIRONMENT_READERS = frozenset(
    {"environ", "environb", "getenv", "getenvb", "getproxies", "getproxies_environment"}
    | {"proxy_bypass"}  # the platform's: without a proxies mapping it reads os.environ
)
"""Names whose use (not mention in prose) reads the process's environment."""


def reads_environment(module: str) -> bool:
    """Whether ``module`` uses ``os.environ`` and the like, or imports one of them by name."""
    for node in ast.walk(source(module)):
        if isinstance(node, ast.Attribute) and node.attr in ENVIRONMENT_READERS:
            return True
        if isinstance(node, ast.ImportFrom) and any(
            a.name in ENVIRONMENT_READERS for a in node.names
        ):
            return True
    return False


def test_only_cli_reads_the_environment() -> None:
    """Only cli.py reads the environment (os.environ, getenv, the proxy variables); everything
    else gets its settings, proxies among them, passed in."""
    readers = {module for module in modules() if reads_environment(module)}
    assert readers <= {"mirrorsync.cli"}


class _ImportSites(ast.NodeVisitor):
    """Top-level names of absolute imports, by where they run: at import time or when called."""

    def __init__(self) -> None:
        self.eager: set[str] = set()
        self.lazy: set[str] = set()
        self._depth = 0

    def _add(self, name: str) -> None:
        (self.lazy if self._depth else self.eager).add(name.split(".", maxsplit=1)[0])

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and node.level == 0:
            self._add(node.module)

    def visit_If(self, node: ast.If) -> None:
        # `if TYPE_CHECKING:` imports are for mypy only (stub packages of the test extra).
        if not (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"):
            self.generic_visit(node)

    def _nested(self, node: ast.AST) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = _nested  # noqa: N815 - ast's visitor names


def _distributions(names: set[str]) -> set[str]:
    """The installed distributions that provide the third-party top-level ``names``."""
    provided = packages_distributions()
    third_party = names - set(sys.stdlib_module_names) - {"__future__", "mirrorsync"}
    missing = {n for n in third_party if n not in provided}
    assert not missing, f"imported but not installed: {sorted(missing)}"
    return {canonicalize_name(d) for n in third_party for d in provided[n]}


def _declared(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


def test_every_imported_package_is_declared_and_every_declared_one_imported() -> None:
    """pyproject.toml declares what the package imports: eagerly in dependencies, lazily in s3."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    required = _declared(project["dependencies"])
    s3_extra = _declared(project["optional-dependencies"]["s3"])
    sites = _ImportSites()
    for path in sorted(PKG.rglob("*.py")):
        sites.visit(ast.parse(path.read_text(encoding="utf-8")))
    eager, lazy = _distributions(sites.eager), _distributions(sites.lazy)
    assert eager - required == set(), "imported when mirrorsync loads, not a dependency"
    assert lazy - required - s3_extra == set(), "imported on demand, declared nowhere"
    assert (required | s3_extra) - eager - lazy == set(), "declared but never imported"


KINDS = frozenset(
    {
        "LocalTree",
        "S3Target",
        "GitHubReleases",
        "DownloadBase",
        "AstralReleases",
        "MirrorReleases",
        "MirrorUvReleases",
    }
)
"""The kinds of target and source: only ``targets.open`` and ``upstream.open`` choose one."""


def named(module: str) -> set[str]:
    """Every name ``module`` uses, reads an attribute by, or imports."""
    found: set[str] = set()
    for node in ast.walk(source(module)):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, ast.ImportFrom):
            found |= {a.name for a in node.names}
    return found


@pytest.mark.parametrize(
    "module",
    [
        m
        for m in modules()
        if unit_of(m, frozenset({"mirrorsync.commands"})) or m == "mirrorsync.cli"
    ],
)
def test_commands_ask_capabilities_never_kinds(module: str) -> None:
    """Commands and the CLI never name a kind of target or source (no isinstance on LocalTree,
    GitHubReleases, DownloadBase...): what differs is a capability of the Target or
    ReleaseSource seam, answered by each kind."""
    assert not named(module) & KINDS, f"{module} names {sorted(named(module) & KINDS)}"
