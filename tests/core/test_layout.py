"""``core.layout.check_relpath``: its one-match fast path accepts exactly what its rules do."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mirrorsync.core.layout import (
    MAX_COMPONENT,
    STATE_DIR,
    check_relpath,
    check_relpath_slowly,
)
from mirrorsync.errors import UnsafeName

pytestmark = pytest.mark.property

ATOMS = [
    "",
    ".",
    "..",
    "...",
    ".a",
    "a.",
    STATE_DIR,
    f"{STATE_DIR}x",
    "C:",
    ":",
    "a:b",
    "\\",
    "\x00",
    "\x1f",
    "\x7f",
    "\n",
    "é",
    "20251217",
    "cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only.tar.gz",
    "x" * MAX_COMPONENT,
    "x" * (MAX_COMPONENT + 1),
    "é" * (MAX_COMPONENT // 2 + 1),
]
paths = st.lists(st.sampled_from(ATOMS) | st.text(max_size=6), min_size=1, max_size=4).map(
    "/".join
) | st.text(max_size=12)


def _accepts(check: object, path: str) -> bool:
    assert callable(check)
    try:
        check(path)
    except UnsafeName:
        return False
    return True


@settings(max_examples=2000, deadline=None)
@given(paths)
def test_the_fast_path_and_the_rules_agree(path: str) -> None:
    """For any path (tricky parts, control characters, long or non-ASCII parts, drive letters),
    ``check_relpath`` accepts it exactly when the rule-by-rule check does."""
    assert _accepts(check_relpath, path) == _accepts(check_relpath_slowly, path)


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("20251217/cpython-3.13.11+20251217-x86_64-unknown-linux-gnu-install_only.tar.gz", True),
        ("uv/0.9.5/uv-x86_64-unknown-linux-gnu.tar.gz", True),
        ("a/" + "x" * MAX_COMPONENT, True),
        ("a/" + "x" * (MAX_COMPONENT + 1), False),
        ("a/../b", False),
        ("./a", False),
        ("a//b", False),
        ("/etc/passwd", False),
        ("C:/x", False),
        ("a\\b", False),
        ("a/b\x7f", False),
        (f"{STATE_DIR}/staging/x", False),
        (f"{STATE_DIR}x/y", True),
        ("", False),
    ],
)
def test_examples(path: str, ok: bool) -> None:  # noqa: FBT001 - a table's column
    """Safe release and uv paths pass; traversal, absolute, drive, backslash, control
    character, overlong part, empty part and the state directory are refused."""
    assert _accepts(check_relpath, path) is ok
