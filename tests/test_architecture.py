"""The package's layers (docs/architecture.md): each module imports only from layers
below its own, so there is no import cycle, and library predicates stay where the
backend is chosen."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "softmaxreg"

#: module -> layer; a module may import only from strictly lower layers
LAYERS = {
    "_compat": 0, "_version": 0,
    "backends": 1, "_validation": 1,
    "_kernel": 2, "optim": 2,
    "functional": 3, "distributed": 3, "io": 3,
    "solvers": 4, "testing": 4,
    "_plans": 5,
    "estimator": 6,
    "cv": 7, "data": 7, "datasets": 7, "metrics": 7, "plotting": 7,
    "workflow": 8, "_progress": 8,
    "cli": 9,
    "__main__": 10, "__init__": 10,
}
#: third-party libraries the package may import inside a function (optional extras);
#: each such import carries a comment saying why
OPTIONAL = {"pandas", "matplotlib", "dask", "distributed", "jax", "torch", "sklearn",
            "threadpoolctl", "array_api_strict", "cupy", "cupyx", "scipy", "rich"}


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    for node in tree.body:  # imports guarded by try/if at module level count as top level
        if isinstance(node, (ast.Try, ast.If)):
            top |= {id(n) for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: within the package
                name = (node.module or "").split(".")[0]
                targets = [name] if name else [a.name for a in node.names]
                found += [(f"softmaxreg.{t}", node.lineno, id(node) in top) for t in targets]
            else:
                found.append((node.module or "", node.lineno, id(node) in top))
        elif isinstance(node, ast.Import):
            found += [(a.name, node.lineno, id(node) in top) for a in node.names]
    return found


def test_every_module_has_a_layer():
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == set(LAYERS), f"give these a layer: {sorted(modules ^ set(LAYERS))}"


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_imports_go_down_the_layers(module):
    for name, line, _ in _imports(PACKAGE / f"{module}.py"):
        if name.startswith("softmaxreg."):
            target = name.split(".")[1]
            assert LAYERS[target] < LAYERS[module], (
                f"softmaxreg/{module}.py:{line} imports {target} (layer {LAYERS[target]}) "
                f"from layer {LAYERS[module]}")


@pytest.mark.parametrize("module", sorted(LAYERS))
def test_function_level_imports_are_only_optional_libraries(module):
    lines = (PACKAGE / f"{module}.py").read_text().splitlines()
    for name, line, top in _imports(PACKAGE / f"{module}.py"):
        if top or name == "__future__":
            continue
        assert not name.startswith("softmaxreg"), (
            f"softmaxreg/{module}.py:{line} imports {name} inside a function")
        assert name.split(".")[0] in OPTIONAL, f"softmaxreg/{module}.py:{line}: {name}"
        assert "#" in lines[line - 1], (
            f"softmaxreg/{module}.py:{line}: say why {name} is imported inside a function")


def test_array_api_compat_is_imported_in_one_place():
    users = sorted(p.stem for p in PACKAGE.glob("*.py")
                   if any(n.split(".")[0] == "array_api_compat" for n, _, _ in _imports(p)))
    assert users == ["_compat"]


@pytest.mark.parametrize("module", ["solvers", "estimator", "_kernel"])
def test_no_library_predicates_where_the_backend_is_already_chosen(module):
    """solvers and estimator receive callables and arrays; the kernel's loop reads its
    Ops bundle. Only _kernel.ops_for may ask which library it is given."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    allowed = {"ops_for"} if module == "_kernel" else set()
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) or fn.name in allowed:
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.Call):
                called = getattr(node.func, "id", getattr(node.func, "attr", ""))
                assert not (called.startswith("is_") and (called.endswith("_namespace")
                                                          or called.endswith("_array"))), (
                    f"softmaxreg/{module}.py:{node.lineno} {fn.name}() calls {called}")
