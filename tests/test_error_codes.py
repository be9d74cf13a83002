"""One table of error codes (model/errors.py CODES): the code raises only those, docs/protocol.md
lists exactly those, and an undeclared code fails where it is raised."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from videochat.model.errors import CODES, ENTRY_REFUSALS, PASSWORD_REFUSALS, RetryLater, UserError

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "src" / "videochat"
ERROR_CLASSES = {"UserError", "RetryLater", "Refusal"}


def documented_codes() -> set[str]:
    """The codes in protocol.md's error tables (those headed `| code | when |`), first column."""
    codes: set[str] = set()
    in_table = False
    for line in (ROOT / "docs" / "protocol.md").read_text().splitlines():
        if line.startswith("| code | when |"):
            in_table = True
        elif not line.startswith("|"):
            in_table = False
        elif in_table and not line.startswith("|---"):
            codes.update(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return codes


def codes_in_source() -> dict[str, str]:
    """Every code the server's source puts in an error: the first argument of UserError, RetryLater
    and Refusal, a `code=` keyword, a `{"code": ...}` literal. code -> where."""
    found: dict[str, str] = {}
    for path in PACKAGE.rglob("*.py"):
        if path.is_relative_to(PACKAGE / "peer"):  # a client of the server: it receives codes
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            literals: list[ast.expr] = []
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                if name in ERROR_CLASSES and node.args:
                    literals.append(node.args[0])
                literals.extend(k.value for k in node.keywords if k.arg == "code")
            elif isinstance(node, ast.Dict):
                literals.extend(
                    v
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value == "code"
                )
            for literal in literals:
                if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                    found.setdefault(literal.value, f"{path.relative_to(ROOT)}:{literal.lineno}")
    return found


def test_protocol_md_lists_every_error_code_and_no_other():
    documented = documented_codes()
    assert not set(CODES) - documented, f"in CODES, not in docs/protocol.md: {sorted(set(CODES) - documented)}"
    assert not documented - set(CODES), f"in docs/protocol.md, not in CODES: {sorted(documented - set(CODES))}"


def test_the_server_raises_only_codes_of_the_table_and_each_of_them():
    found = codes_in_source()
    unknown = {code: where for code, where in found.items() if code not in CODES}
    assert not unknown, f"codes raised but not in model/errors.py CODES: {unknown}"
    assert not set(CODES) - set(found), f"codes in CODES that nothing raises: {sorted(set(CODES) - set(found))}"


def test_an_undeclared_code_fails_where_it_is_raised():
    with pytest.raises(ValueError, match="not an error code"):
        UserError("no_such_code", "a typo")
    with pytest.raises(ValueError, match="not an error code"):
        RetryLater("no_such_code", "a typo", 1.0)
    assert UserError("room_full", "full").as_dict() == {"code": "room_full", "message": "full"}


def test_the_groups_the_page_acts_on_are_codes_of_the_table():
    assert PASSWORD_REFUSALS < ENTRY_REFUSALS <= set(CODES)
