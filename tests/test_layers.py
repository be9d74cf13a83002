"""The package's layers import only downwards (README, "Layout"): read from the source, every import
counted, those inside functions and under `if TYPE_CHECKING:` too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "videochat"

# Top first. A module may import from its own layer's package and from any layer below it; the
# packages on one row are independent of each other. `videochat/__init__.py` (the version) is below all.
LAYERS = [
    ["videochat.__main__"],
    ["videochat.cli"],
    ["videochat.server"],
    ["videochat.app"],
    ["videochat.connections", "videochat.tls"],
    ["videochat.web"],
    ["videochat.cluster"],
    ["videochat.events"],
    ["videochat.sfu", "videochat.storage", "videochat.recording"],
    ["videochat.fastpath", "videochat.ops"],
    ["videochat.transport"],
    ["videochat.settings"],
    ["videochat.model"],
]
# The Python call peer is a client of the server's protocol, not a part of the server: it imports
# nothing of the server's, and only the command line imports it.
INDEPENDENT = {"videochat.peer": {"videochat.cli"}}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "videochat" or name.startswith("videochat.")}


def owner(name: str) -> str | None:
    """The layer package (or top-level module) `name` belongs to."""
    for row in LAYERS:
        for layer in row:
            if name == layer or name.startswith(layer + "."):
                return layer
    for layer in INDEPENDENT:
        if name == layer or name.startswith(layer + "."):
            return layer
    return None


def rank(layer: str) -> int:
    return next(index for index, row in enumerate(LAYERS) if layer in row)


SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_has_a_layer():
    loose = [
        module_name(path) for path in SOURCES if module_name(path) != "videochat" and owner(module_name(path)) is None
    ]
    assert loose == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda path: module_name(path))
def test_imports_go_downwards(path):
    importer = owner(module_name(path))
    wrong = []
    for name in sorted(imports(path)):
        target = owner(name)
        if target is None or target == importer:
            continue  # the package's version, a name imported from a module (counted as the module), or its own layer
        if importer in INDEPENDENT or target in INDEPENDENT:
            if importer not in INDEPENDENT.get(target, set()):
                wrong.append(name)
        elif rank(target) <= rank(importer):
            wrong.append(name)
    assert wrong == [], f"{module_name(path)} (layer {importer}) imports upwards or sideways: {wrong}"


# Library internals are touched only in fastpath/ (speed, switched off by --fast-path off) and
# transport/ (the limits and protocol rules every path keeps). These modules still touch some, each
# for a reason of its own layer; a new user elsewhere fails the test below.
INTERNALS_ELSEWHERE = {
    # uvicorn's HTTP protocol subclassed for the request deadline: it must wrap uvicorn's protocol
    # classes, which are chosen where the server is configured (the top of the stack)
    "connections.py",
    # uvicorn's signal capture, so that a clean shutdown exits 0: the command's own concern
    "server.py",
    # python-socketio's pub/sub manager: our ordered outbox is the channel itself
    "storage/bus.py",
    # whether the library's manager has started, to open the Redis channel before any connection
    "cluster/sync.py",
    # python-socketio's Admin UI server: what admins are shown, the login brake, its stats task
    "web/admin.py",
}


def test_library_internals_are_touched_in_fastpath_and_transport_only():
    from videochat.fastpath.selfcheck import INTERNALS

    users = {internal.used_by.split(":")[0] for internal in INTERNALS}
    assert all((PACKAGE / user).is_file() for user in users), "every user named is a module of the package"
    elsewhere = {user for user in users if not user.startswith(("fastpath/", "transport/"))}
    assert elsewhere == INTERNALS_ELSEWHERE
