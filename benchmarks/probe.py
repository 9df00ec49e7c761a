"""Run mirrorsync's CLI and record every file it opens, renames or removes.

``python -m benchmarks.probe OUT.json ARGS...`` behaves exactly like ``python -m mirrorsync
ARGS...`` (same exit code), with a ``sys.addaudithook`` hook that notes the ``open``,
``os.rename``/``os.replace`` and ``os.remove`` events of the interpreter, whichever thread raises
them; at exit it writes them to ``OUT.json`` as ``{"open": [[path, writing], ...], "rename":
[[src, dst], ...], "remove": [path, ...]}``. Opens by file descriptor and of modules being
imported are included; the caller sorts them by where they point.

The benchmark uses it for one extra run of a scenario, never for a timed one.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def _path(value: object) -> str | None:
    if isinstance(value, str | bytes | os.PathLike):
        return str(Path(os.fsdecode(value)).absolute())
    return None


def _writing(mode: object, flags: object) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    return isinstance(flags, int) and bool(flags & _WRITE_FLAGS)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    out, rest = Path(args[0]), args[1:]
    record: dict[str, list[Any]] = {"open": [], "rename": [], "remove": []}

    def hook(event: str, event_args: tuple[Any, ...]) -> None:
        if event == "open":
            path = _path(event_args[0])
            if path is not None:
                record["open"].append([path, _writing(event_args[1], event_args[2])])
        elif event == "os.rename":
            record["rename"].append([_path(event_args[0]), _path(event_args[1])])
        elif event == "os.remove":
            record["remove"].append(_path(event_args[0]))

    sys.argv = ["mirrorsync", *rest]
    sys.addaudithook(hook)
    try:
        runpy.run_module("mirrorsync", run_name="__main__", alter_sys=True)
    finally:
        out.write_text(json.dumps(record), encoding="utf-8")


if __name__ == "__main__":
    main()
