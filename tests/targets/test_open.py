"""Opening a target: a root that cannot be a mirror is a configuration error (exit 2) naming
the key, before anything is read or written."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from mirror_harness import Mirror

from mirrorsync.cli import main
from mirrorsync.errors import ConfigError
from mirrorsync.targets.open import open_root, root_problem


def test_a_new_directory_is_fine(tmp_path: Path) -> None:
    """A root that does not exist yet, below a directory, can become a mirror."""
    assert root_problem(tmp_path / "mirror" / "deeper", home=None) is None


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_text("x"), "is not a directory"),
        (lambda p: p.symlink_to(p.parent / "nowhere"), "is a symbolic link that leads nowhere"),
        (lambda p: p.symlink_to(p), "is a symbolic link that"),  # a loop
    ],
    ids=["file", "dangling-link", "link-loop"],
)
def test_roots_that_cannot_be_a_mirror(tmp_path: Path, make: object, expected: str) -> None:
    """A file, a dangling link or a link loop at the root is refused with the reason."""
    root = tmp_path / "mirror"
    make(root)  # type: ignore[operator]
    problem = root_problem(root, home=None)
    assert problem is not None
    assert expected in problem


def test_a_root_below_a_file_is_refused(tmp_path: Path) -> None:
    """A root whose parent is a file is refused naming that file."""
    (tmp_path / "file").write_text("x")
    problem = root_problem(tmp_path / "file" / "mirror", home=None)
    assert problem == f"is below {tmp_path / 'file'}, a file"


def test_the_file_system_root_and_home_are_refused(tmp_path: Path) -> None:
    """``/`` and the home directory are refused: a mirror writes its own files at its root."""
    assert "file system's root" in (root_problem(Path("/"), home=None) or "")
    assert "home directory" in (root_problem(tmp_path, home=tmp_path) or "")


def test_open_root_names_the_key(tmp_path: Path) -> None:
    """The error names the configuration key (or option) the root came from."""
    (tmp_path / "mirror").write_text("x")
    with pytest.raises(ConfigError, match=r"^target\.path: .*mirror is not a directory$"):
        open_root(tmp_path / "mirror", key="target.path")


@pytest.mark.parametrize("command", [["sync"], ["plan"], ["sync", "--dry-run"], ["verify"]])
async def test_a_file_as_target_path_exits_2(
    mirror: Mirror, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    """sync, plan and verify on a target.path that is a file exit 2 naming target.path."""
    mirror.configure()
    mirror.root.write_text("not a mirror")
    argv = [*command, "-c", os.fspath(mirror.config_path)]
    code = await asyncio.to_thread(main, argv, environ={})
    err = capsys.readouterr().err
    assert code == 2
    assert "target.path:" in err
    assert "Traceback" not in err
    assert mirror.root.read_text() == "not a mirror"
