"""The layout's promise, checked: inside ``app`` a part imports only from parts below it,
and ``app`` never imports torch or ``training`` (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO_ROOT

APP = REPO_ROOT / "app"
LAYERS = (
    {"system"},
    {"face"},
    {"results"},
    {"sources", "model"},
    {"output"},
    {"landmark_thread", "face_reading", "read_schedule"},
    {"pipeline"},
    {"arguments"},
    {"api", "headless", "gui"},
    {"batch"},
    {"cli"},
    {"__main__"},
)
"""Bottom first; parts in one row do not import each other."""
RANK = {part: rank for rank, row in enumerate(LAYERS) for part in row}
FORBIDDEN = ("torch", "training", "torchvision")


def _part(module: str) -> str | None:
    """``app.face.landmarks`` -> ``face``; the package ``app`` itself -> None."""
    pieces = module.split(".")
    return pieces[1] if pieces[0] == "app" and len(pieces) > 1 else None


def _imports(path: Path) -> list[str]:
    modules = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
    return modules


def _app_modules() -> dict[str, Path]:
    found = {}
    for path in sorted(APP.rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def test_every_part_of_app_has_a_layer():
    parts = {_part(module) for module in _app_modules()} - {None}
    assert parts <= set(RANK), f"parts without a layer in LAYERS: {sorted(parts - set(RANK))}"


def test_app_imports_only_downwards():
    upward = []
    for module, path in _app_modules().items():
        source = _part(module)
        if source is None:
            continue  # app/__init__.py: the lazy ``from app import EmotionRecognizer``
        for imported in _imports(path):
            target = _part(imported)
            if target is None or target == source:
                continue
            if RANK[target] >= RANK[source]:
                upward.append(f"{path.relative_to(REPO_ROOT)} imports {imported}")
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_app_never_imports_torch_or_training():
    offending = [f"{path.relative_to(REPO_ROOT)} imports {imported}"
                 for path in _app_modules().values() for imported in _imports(path)
                 if imported.split(".")[0] in FORBIDDEN]
    assert not offending, "\n".join(offending)
