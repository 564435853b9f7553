"""Read YAML files into plain data plus the node tree that says where each value was written.

ruamel.yaml composes every document into nodes (each with a 0-based line and
column); this module turns the nodes into plain Python data (dicts, lists,
JSON scalars) itself, so that models are built from plain data quickly and the
nodes are kept only to locate problems. Syntax errors, duplicate keys, bytes
that are not UTF-8 and unsupported YAML features become `Problem`s, never
exceptions. Called by `ido.loading.documents`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import SafeConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from ido.errors import Problem

_TAG = "tag:yaml.org,2002:"
#: Aliases can expand a small file into a huge tree ("billion laughs"); no real
#: declaration file comes near this many values.
_MAX_VALUES = 2_000_000


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: its plain `data`, its root `node`, and where it came from."""

    path: str
    index: int
    node: Node | None
    data: Any


def display_path(path: Path) -> str:
    """Return `path` relative to the current folder when it lies below it, else as given."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def read_documents(path: Path, text: str | bytes | None = None) -> tuple[list[Document], list[Problem]]:
    """Return the documents of the YAML file at `path` and the problems found reading it.

    `text` overrides the file's content (tests, stdin). A file with a syntax
    error yields no documents, only the problem, because what follows the
    error cannot be trusted. Empty documents have `data` None.
    """
    shown = display_path(path)
    if text is None:
        try:
            text = path.read_bytes()
        except OSError as exc:
            return [], [Problem(f"cannot read the file: {exc.strerror or exc}", path=shown, line=1, column=1)]
    if isinstance(text, bytes):
        raw: bytes = text
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            return [], [
                Problem(
                    f"byte 0x{raw[exc.start]:02x} is not UTF-8; save the file as UTF-8 text",
                    path=shown, line=line, column=column,
                )
            ]
    yaml = YAML(typ="safe", pure=True)
    try:
        nodes = list(yaml.compose_all(text))
    except MarkedYAMLError as exc:
        return [], [_syntax_problem(exc, shown)]
    except ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return [], [
            Problem(
                f"character {exc.character!r} is not allowed in YAML; remove it or write it escaped in a quoted string",
                path=shown, line=line, column=column,
            )
        ]
    except (YAMLError, RecursionError) as exc:
        return [], [Problem(f"not readable as YAML: {exc}", path=shown, line=1, column=1)]
    builder = _Builder(shown, yaml.constructor)
    documents = []
    for index, node in enumerate(nodes):
        data = builder.build(node) if node is not None else None
        documents.append(Document(path=shown, index=index, node=node, data=data))
    if builder.problems:
        # Duplicate keys and unsupported features make the data ambiguous.
        return [], builder.problems
    return documents, []


def _syntax_problem(exc: MarkedYAMLError, path: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    what = str(exc.problem or exc.context or "syntax error").strip()
    if "'\\t'" in what or "\t" in what:
        hint = "YAML does not allow tab characters for indentation; indent with spaces"
    elif "mapping values are not allowed" in what:
        hint = (
            f"YAML syntax error: {what}; check the indentation of this line against the one "
            "above, or quote a value that contains ': '"
        )
    elif "end of stream" in what and exc.context and "quoted" in exc.context:
        start = exc.context_mark
        where = f" opened at line {start.line + 1}" if start is not None else ""
        hint = f"YAML syntax error: a quoted string{where} is never closed; add the closing quote"
    elif exc.context and exc.context_mark is not None:
        hint = (
            f"YAML syntax error: {what} {exc.context} started at line "
            f"{exc.context_mark.line + 1}; check indentation and closing brackets"
        )
    else:
        hint = f"YAML syntax error: {what}; check indentation, colons and quotes"
    return Problem(hint, path=path, line=line, column=column)


class _Builder:
    """Turns composed nodes into plain data, reporting what plain data cannot hold."""

    def __init__(self, path: str, constructor: SafeConstructor) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.count = 0
        self._constructor = constructor

    def _problem(self, node: Node, message: str) -> None:
        self.problems.append(
            Problem(message, path=self.path, line=node.start_mark.line + 1, column=node.start_mark.column + 1)
        )

    def build(self, node: Node) -> Any:
        self.count += 1
        if self.count > _MAX_VALUES:
            if self.count == _MAX_VALUES + 1:
                self._problem(node, f"the file expands to more than {_MAX_VALUES} values (aliases?); write it out plainly")
            return None
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if isinstance(node, SequenceNode):
            return [self.build(item) for item in node.value]
        if isinstance(node, MappingNode):
            return self._mapping(node)
        self._problem(node, "unsupported YAML node")
        return None

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag in (_TAG + "str", _TAG + "timestamp"):
            # A date stays text: facts hold JSON scalars only.
            return node.value
        if tag in (_TAG + "null", _TAG + "bool", _TAG + "int", _TAG + "float"):
            value = self._constructor.construct_object(node, deep=True)
            if isinstance(value, float) and not math.isfinite(value):
                return node.value
            return value
        if tag == _TAG + "merge":
            self._problem(node, "merge keys (<<) are not supported; write the fields out")
            return None
        self._problem(node, f"YAML tag {tag!r} is not supported; remove the tag and write a plain value")
        return None

    def _mapping(self, node: MappingNode) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        first: dict[Any, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _TAG + "merge":
                if key_node.tag == _TAG + "merge":
                    self._problem(key_node, "merge keys (<<) are not supported; write the fields out")
                else:
                    self._problem(key_node, "a key must be a plain name, not a list or mapping")
                continue
            key = self._scalar(key_node)
            if not isinstance(key, str):
                # `1: x` or `true: x`: keys are names; keep the written text.
                key = key_node.value
            if key in first:
                self._problem(
                    key_node,
                    f"duplicate key {key!r}; it was already given at line {first[key].start_mark.line + 1}, "
                    "keep only one",
                )
                continue
            first[key] = key_node
            result[key] = self.build(value_node)
        return result
