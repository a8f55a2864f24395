"""The package's layers: data flows one way, and no two modules import each other.

Bytes become events (`sse`), events are checked (`checks`, `protocols`, `semantics`, `oracles`),
targets turn requests into bytes (`targets`), and the runner, plugin and reports sit on top, with the
report site (`site`) above the reports. A check never knows which target produced a stream, and a
target never knows which checks will run.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "conformance"

# The check layer: what judges a stream. None of it may import a target.
CHECK_LAYER = ("conformance.checks", "conformance.invariants", "conformance.stream", "conformance.semantics")
CHECK_PACKAGES = ("conformance.protocols", "conformance.oracles")
# What a target may import from outside `conformance.targets`: protocol names, SSE framing, the
# replay server's token header and routes, and the schema helper (a target file's format is a
# schema; it imports nothing of the checks). Never a check.
TARGET_MAY_IMPORT = (
    "conformance.protocols",
    "conformance.sse",
    "conformance.replay",
    "conformance.routes",
    "conformance.usage",
    "conformance.schemas",
)

# What the report site (`conformance.site`) may import: the data it is built from (reports, their
# classes and invariants, the corpus and its coverage, routes, the report schema) and SSE framing to
# split outputs into events. It renders what ran: never a target, a check, the runner or the plugin.
SITE_MAY_IMPORT = (
    "conformance.site",
    "conformance.report",
    "conformance.results",
    "conformance.invariants",
    "conformance.corpus",
    "conformance.coverage",
    "conformance.routes",
    "conformance.schemas",
    "conformance.snapshots",
    "conformance.sse",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_module_name(path): ast.parse(path.read_text(encoding="utf-8")) for path in PACKAGE.rglob("*.py")}


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = (
        module if (PACKAGE.parent / module.replace(".", "/") / "__init__.py").is_file() else module.rpartition(".")[0]
    )
    base = package.split(".")[: len(package.split(".")) - node.level + 1]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str, tree: ast.Module, *, top_level_only: bool) -> Iterator[str]:
    """The conformance modules `module` imports; with `top_level_only`, those it imports when it is
    itself imported (not inside functions, nor under `if TYPE_CHECKING:`)."""
    nodes: list[ast.AST] = list(tree.body) if top_level_only else list(ast.walk(tree))
    for node in nodes:
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            # `from conformance import checks` imports the submodule `conformance.checks`.
            names = [f"{source}.{alias.name}" for alias in node.names] + [source]
        else:
            continue
        for name in names:
            if name.startswith("conformance"):
                yield name


def _known(name: str, modules: dict[str, ast.Module]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def test_importing_the_checks_loads_no_target() -> None:
    probe = "import sys, conformance.checks; print([m for m in sys.modules if m.startswith('conformance.targets')])"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


def _in_check_layer(name: str) -> bool:
    return name in CHECK_LAYER or name.startswith(CHECK_PACKAGES)


def test_no_check_imports_a_target_even_lazily() -> None:
    modules = _modules()
    offending = [
        (module, imported)
        for module, tree in modules.items()
        if _in_check_layer(module)
        for imported in _imports(module, tree, top_level_only=False)
        if imported.startswith(("conformance.targets", "conformance.runner", "conformance.transport"))
    ]
    assert offending == []


def test_no_target_imports_a_check() -> None:
    modules = _modules()
    offending = [
        (module, imported)
        for module, tree in modules.items()
        if module.startswith("conformance.targets")
        for imported in _imports(module, tree, top_level_only=False)
        if not imported.startswith(("conformance.targets", *TARGET_MAY_IMPORT)) and imported != "conformance"
    ]
    assert offending == []


def test_the_site_imports_only_the_data_it_renders() -> None:
    modules = _modules()
    offending = [
        (module, imported)
        for module, tree in modules.items()
        if module.startswith("conformance.site")
        for imported in _imports(module, tree, top_level_only=False)
        if not imported.startswith(SITE_MAY_IMPORT) and imported != "conformance"
    ]
    assert offending == []


def test_the_protocol_names_module_holds_only_names() -> None:
    """Targets import `conformance.protocols` for the protocol names: importing it must not load the
    protocol modules, whose invariants are checks."""
    probe = "import sys, conformance.protocols; print(sorted(m for m in sys.modules if m.startswith('conformance.')))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['conformance.protocols']"


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_module_level_imports_have_no_cycle() -> None:
    modules = _modules()
    graph = {
        module: {
            known
            for name in _imports(module, tree, top_level_only=True)
            if (known := _known(name, modules)) not in (None, module, "conformance")
        }
        for module, tree in modules.items()
    }
    assert _cycle(graph) is None


@pytest.mark.parametrize(
    ("importer", "imported"),
    [
        ("conformance.session", "conformance.plugin"),
        ("conformance.items", "conformance.plugin"),
        ("conformance.snapshots", "conformance.plugin"),
        ("conformance.snapshots", "conformance.session"),
        ("conformance.targets.http", "conformance.targets.litellm_proxy"),
    ],
)
def test_former_import_loops_stay_broken(importer: str, imported: str) -> None:
    """These pairs imported each other, some lazily inside functions; the lower one no longer knows
    the higher one at all."""
    modules = _modules()
    assert imported not in set(_imports(importer, modules[importer], top_level_only=False))
