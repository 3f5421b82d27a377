"""The packages of `index/` import only those below them (see `index/__init__.py`), and `index/` never
imports Flask or `service/`."""
import ast
from pathlib import Path

INDEX = Path(__file__).resolve().parents[1] / "index"
LAYERS = ["text", "records", "relatedness", "embedding", "ann", "store", "search", "answers"]
UTILITIES = {"errors", "sqlite", "lru", "threads", "crash_points"}


def imported(path: Path) -> set[str]:
    """The top-level names under `index` that a module imports (packages and top modules)."""
    package = path.relative_to(INDEX.parent).parent.parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                parts = [*base, *(node.module.split(".") if node.module else [])]
                names = [parts] if node.module else [[*parts, a.name] for a in node.names]
            elif node.module and node.module.split(".")[0] in ("index", "service", "flask"):
                names = [node.module.split(".")]
            else:
                continue
            found.update(n[1] if n[0] == "index" and len(n) > 1 else n[0] for n in names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names if a.name.split(".")[0] in ("service", "flask"))
    return found


def test_each_package_imports_only_the_packages_below_it():
    for rank, layer in enumerate(LAYERS):
        allowed = set(LAYERS[:rank + 1]) | UTILITIES
        for path in (INDEX / layer).rglob("*.py"):
            wrong = {name.removesuffix(".py") for name in imported(path)} - allowed
            assert not wrong, f"{path.relative_to(INDEX)} imports {sorted(wrong)} (allowed: {sorted(allowed)})"


def test_the_utilities_import_no_package_and_the_engine_knows_no_http():
    for name in UTILITIES:
        assert not imported(INDEX / f"{name}.py") - UTILITIES, name
    for path in INDEX.rglob("*.py"):
        assert not imported(path) & {"flask", "service"}, path
