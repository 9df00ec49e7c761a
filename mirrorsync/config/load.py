"""Find and read ``mirror.yaml``: the file, its encoding, its YAML; each failure a ``ConfigError``.

What the YAML holds is checked by ``schema.parse_config``; this module only turns the file into
the object it checks, and every way that can fail (unreadable, not UTF-8, not YAML, a tab in the
indentation, a duplicate key, a value YAML cannot construct) into one clear line with its
position, never a traceback.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mirrorsync.config.records import Config
from mirrorsync.config.schema import DEFAULT_CONFIG_NAME, parse_config
from mirrorsync.errors import ConfigError

CONFIG_ENV = "MIRRORSYNC_CONFIG"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_YAML_TAGS = "tag:yaml.org,2002:"


def load_config(path: Path) -> Config:
    """Read ``path`` (UTF-8 YAML) and validate it; an empty file means every default."""
    origin = str(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        # In the line itself: callers print the problems, not always the hint.
        advice = f" (pass -c FILE or set {CONFIG_ENV})" if isinstance(e, FileNotFoundError) else ""
        problem = f"{origin}: cannot read the configuration file: {e.strerror or e}{advice}"
        raise ConfigError([problem]) from e
    try:
        text = raw.decode("utf-8-sig")  # UTF-8; a leading BOM (some Windows editors) is dropped
    except UnicodeDecodeError as e:
        where = _line_column(raw[: e.start].decode("utf-8", "replace"))
        raise ConfigError([f"{origin}:{where}: not valid UTF-8 (byte 0x{raw[e.start]:02x})"]) from e
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as e:
        raise ConfigError([_yaml_problem(origin, e)]) from e
    except yaml.reader.ReaderError as e:  # a control character; it has a position, not a mark
        where = _line_column(text[: e.position])
        raise ConfigError(
            [f"{origin}:{where}: unacceptable character #x{e.character:04x}: {e.reason}"]
        ) from e
    except yaml.YAMLError as e:  # any other: PyYAML's own words
        raise ConfigError([f"{origin}: not valid YAML: {e}"]) from e
    except RecursionError as e:  # [[[[…]]]] thousands deep: the parser recurses per level
        raise ConfigError([f"{origin}: nested too deeply to be a configuration"]) from e
    # absolute(): the paths in the Config stay right if the process later changes directory.
    return parse_config(data, base_dir=path.absolute().parent, source=path, origin=origin)


def find_config(explicit: str | None, environ: Mapping[str, str], cwd: Path) -> Path:
    """The config file to use: ``-c FILE``, else ``$MIRRORSYNC_CONFIG``, else ``./mirror.yaml``.

    Relative names are relative to ``cwd``; the file need not exist (``load_config`` says so).
    """
    if explicit is not None:
        if not explicit:
            raise ConfigError(["-c: expected a file name, got an empty string"])
        return cwd / Path(explicit).expanduser()
    if from_env := environ.get(CONFIG_ENV):  # set but empty counts as unset
        return cwd / Path(from_env).expanduser()
    return cwd / DEFAULT_CONFIG_NAME


# -- YAML -----------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys (PyYAML silently keeps the last one), reads
    a timestamp that is no real date or time as the text written, and reports a value an explicit
    tag cannot construct (``!!int abc``) at its position instead of raising from Python."""

    def construct_object(
        self,
        node: yaml.Node,
        deep: bool = False,  # noqa: FBT001, FBT002 - PyYAML's signature
    ) -> Any:  # noqa: ANN401 - whatever the document holds
        try:
            return super().construct_object(node, deep=deep)
        except yaml.YAMLError:
            raise
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as e:
            what = repr(node.value) if isinstance(node, yaml.ScalarNode) else "this value"
            tag = node.tag.replace(_YAML_TAGS, "!!")
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {what} as {tag}", node.start_mark
            ) from e

    def construct_lenient_timestamp(self, node: yaml.ScalarNode) -> object:
        """``2025-01-31`` is a date; ``2025-13-01`` (no such date) stays the text it is, so that
        the schema reports it under its key (``releases.since: not a real date: '2025-13-01'``).
        """
        try:
            return self.construct_yaml_timestamp(node)
        except (ValueError, TypeError, AttributeError, OverflowError):
            return self.construct_scalar(node)

    def construct_mapping(
        self,
        node: yaml.MappingNode,
        deep: bool = False,  # noqa: FBT001, FBT002 - PyYAML's signature
    ) -> dict[Hashable, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            # Explicit keys may override merged ones (<<), so only literal scalar keys can clash.
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = self.construct_object(key_node)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_constructor(_TIMESTAMP, _Loader.construct_lenient_timestamp)


def _line_column(before: str) -> str:
    """``line:column`` (1-based) of the character that follows ``before``."""
    line = before.count("\n") + 1
    column = len(before) - before.rfind("\n")  # rfind is -1 on the first line
    return f"{line}:{column}"


def _yaml_problem(origin: str, e: yaml.MarkedYAMLError) -> str:
    """``origin:line:column: problem (context at line:column)``, 1-based, from PyYAML's marks."""
    mark = e.problem_mark or e.context_mark
    where = f"{origin}:{mark.line + 1}:{mark.column + 1}" if mark else origin
    message = e.problem or e.context or "invalid YAML"
    if e.problem and e.context:
        cm = e.context_mark
        started = f" at {cm.line + 1}:{cm.column + 1}" if cm is not None else ""
        message += f" ({e.context}{started})"
    return f"{where}: {message}"
