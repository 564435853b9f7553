"""Read YAML files into plain data plus the node tree that says where each value was written.

libyaml, PyYAML's C parser, composes every document into nodes, each with a 0-based
line and column (`start_mark`); plain scalars are resolved by YAML 1.2's core
schema (`yes`, `on` and dates stay text, `012` is twelve), whatever a `%YAML`
directive says. This module turns the nodes into plain Python data (dicts, lists,
JSON scalars) itself, so that models are built from plain data quickly and the
nodes are kept only to locate problems. Syntax errors, duplicate keys, bytes that
are not UTF-8, files over the size limit (`ido.limits`), aliases that expand a
file past `ALIAS_BUDGET` values and unsupported YAML features become `Problem`s,
never exceptions. Called by `ido.loading.documents`.
"""

from __future__ import annotations

import gc
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import BaseResolver

from ido.errors import Problem
from ido.limits import FileTooLarge, max_file_bytes, read_bounded, too_large_message

_TAG = "tag:yaml.org,2002:"
#: Aliases can expand a small file into a huge tree ("billion laughs"): a file may
#: grow by at most this many values through aliases. Real files share a few tags.
ALIAS_BUDGET = 100_000

#: Characters YAML does not allow in a file (YAML 1.2 section 5.1, as ruamel checks them).
_NOT_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")


def _implicit(tag: str, pattern: str, first: str) -> tuple[str, str, re.Pattern[str]]:
    return first, _TAG + tag, re.compile(pattern, re.X)


#: YAML 1.2 core schema tags of plain scalars, by first character (ruamel's YAML 1.2 table).
_IMPLICIT: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _first, _tag, _pattern in (
    _implicit("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    _implicit(
        "float",
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |[-+]?\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        "-+0123456789.",
    ),
    _implicit("int", r"^(?:[-+]?0b[0-1_]+|[-+]?0o?[0-7_]+|[-+]?[0-9_]+|[-+]?0x[0-9a-fA-F_]+)$", "-+0123456789"),
    _implicit("merge", r"^(?:<<)$", "<"),
    _implicit("null", r"^(?:~|null|Null|NULL)$", "~nN"),
):
    for _char in _first:
        _IMPLICIT.setdefault(_char, []).append((_tag, _pattern))
_DEFAULT_TAGS = {ScalarNode: _TAG + "str", SequenceNode: _TAG + "seq", MappingNode: _TAG + "map"}


class Yaml12Resolver(BaseResolver):
    """Tags plain scalars by YAML 1.2's core schema (PyYAML's own resolver follows YAML 1.1).

    Only `true`/`false` (in three spellings) are booleans; `yes`, `on`, `y` stay
    text. Dates stay text (no timestamp tag). Integers are decimal, `0o` octal, `0x`
    hex or `0b` binary, `_` allowed, as ruamel's YAML 1.2 reads them. An empty
    plain scalar is null.
    """

    def resolve(self, kind: type[Node], value: str | None, implicit: tuple[bool, bool] | None) -> str:
        """Return the tag of a node written without one (called by the composer for every node)."""
        if kind is ScalarNode and implicit is not None and implicit[0] and value is not None:
            if not value:
                return _TAG + "null"
            for tag, pattern in _IMPLICIT.get(value[0], ()):
                if pattern.match(value):
                    return tag
        return _DEFAULT_TAGS[kind]


if getattr(yaml, "__with_libyaml__", False):
    from yaml.cyaml import CParser  # type: ignore[attr-defined]  # re-exported at run time, not in the stubs

    class _Composer(CParser, Yaml12Resolver):
        """libyaml's parser and composer with YAML 1.2 scalar tags."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Yaml12Resolver.__init__(self)

else:  # pragma: no cover - PyYAML built without libyaml: the same nodes, parsed in Python

    class _Composer(  # type: ignore[no-redef]
        yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser, yaml.composer.Composer, Yaml12Resolver
    ):
        """PyYAML's pure-Python parser and composer with YAML 1.2 scalar tags."""

        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)
            yaml.composer.Composer.__init__(self)
            Yaml12Resolver.__init__(self)


def compose_all(text: str) -> list[Node | None]:
    """Return the root node of each YAML document in `text` (None for an empty one).

    Raises yaml.MarkedYAMLError on a syntax error. Callers pause the garbage
    collector meanwhile (see `read_documents`).
    """
    composer = _Composer(text)
    try:
        nodes: list[Node | None] = []
        while composer.check_node():
            nodes.append(composer.get_node())
        return nodes
    finally:
        composer.dispose()


def compose_all_yaml12(text: str) -> list[Node | None] | Exception | None:
    """Return `compose_all(text)` as YAML 1.2 reads it, through ruamel's pure-Python parser, or
    the syntax error that refuses it too (its marks and messages as PyYAML's), or None.

    libyaml follows YAML 1.1, which refuses a few texts 1.2 allows (a plain scalar starting with
    `:` in a flow collection, `{a: :0}`, as YAML 1.2 dumpers write it); ido reads YAML 1.2, so
    `read_documents` asks this one before reporting libyaml's syntax error. Only such files pay
    ruamel's ~10x slower parse. Its nodes become PyYAML's, marks and shared (aliased) nodes kept.
    """
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError as RuamelError
    from ruamel.yaml.nodes import MappingNode as RuamelMapping
    from ruamel.yaml.nodes import ScalarNode as RuamelScalar

    try:
        found = list(YAML(typ="safe", pure=True).compose_all(text))
    except RuamelError as exc:
        return exc if getattr(exc, "problem_mark", None) is not None else None
    except RecursionError:
        return None
    made: dict[int, Node] = {}

    def mark(m: Any) -> yaml.Mark:
        return yaml.Mark("<text>", m.index, m.line, m.column, None, 0)  # no buffer kept

    def convert(node: Any) -> Node:
        if id(node) in made:  # an alias: the same node, as libyaml's composer shares it
            return made[id(node)]
        tag = str(getattr(node.tag, "value", node.tag))
        start, end = mark(node.start_mark), mark(node.end_mark)
        out: Node
        if isinstance(node, RuamelScalar):
            out = ScalarNode(tag, node.value, start, end, getattr(node, "style", None))
            made[id(node)] = out
        elif isinstance(node, RuamelMapping):
            out = MappingNode(tag, [], start, end)
            made[id(node)] = out
            out.value.extend((convert(k), convert(v)) for k, v in node.value)
        else:
            out = SequenceNode(tag, [], start, end)
            made[id(node)] = out
            out.value.extend(convert(v) for v in node.value)
        return out

    return [None if n is None else convert(n) for n in found]


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
            text = read_bounded(path)
        except FileTooLarge as exc:
            return [], [Problem(str(exc), path=shown, line=1, column=1)]
        except OSError as exc:
            return [], [Problem(f"cannot read the file: {exc.strerror or exc}", path=shown, line=1, column=1)]
    if len(text) > max_file_bytes():
        return [], [Problem(too_large_message(max_file_bytes()), path=shown, line=1, column=1)]
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
    text = text.removeprefix("\ufeff")
    bad = _NOT_PRINTABLE.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        column = bad.start() - (text.rfind("\n", 0, bad.start()) + 1) + 1
        return [], [
            Problem(
                f"character {bad.group()!r} is not allowed in YAML; remove it or write it escaped in a quoted string",
                path=shown, line=line, column=column,
            )
        ]
    paused = gc.isenabled()
    gc.disable()  # composing and building allocate much and free nothing: collections would find nothing
    try:
        try:
            nodes = compose_all(text)
        except yaml.MarkedYAMLError as exc:
            found = compose_all_yaml12(text)
            if not isinstance(found, list):
                # where YAML 1.2 itself stops when that is further on (libyaml stopped at 1.2 it refuses)
                later = found is not None and _at(found) > _at(exc)
                return [], [_syntax_problem(found if later else exc, text, shown)]  # type: ignore[arg-type]
            nodes = found
        except (yaml.YAMLError, RecursionError) as exc:
            return [], [Problem(f"not readable as YAML: {exc}", path=shown, line=1, column=1)]
        builder = _Builder(shown)
        documents = []
        for index, node in enumerate(nodes):
            data = builder.document(node) if node is not None else None
            documents.append(Document(path=shown, index=index, node=node, data=data))
    finally:
        if paused:
            # The new nodes and data are long-lived: move them to the oldest generation at
            # once (freeze, then unfreeze), or the young collections after `enable` walk every
            # one of them and promote them in a way that soon triggers full collections too
            # (measured: 2.7 s instead of 6.8 s CPU for load_paths at 10,000 capabilities).
            gc.freeze()
            gc.unfreeze()
            gc.enable()
    if builder.problems:
        # Duplicate keys and unsupported features make the data ambiguous.
        return [], builder.problems
    return documents, []


def _at(exc: Any) -> tuple[int, int]:
    """Return the (line, column) a syntax error names (0, 0 when none)."""
    mark = exc.problem_mark or exc.context_mark
    return (mark.line, mark.column) if mark is not None else (0, 0)


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str, path: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    column = mark.column + 1 if mark is not None else 1
    what = str(exc.problem or exc.context or "syntax error").strip()
    context = str(exc.context or "").strip()
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        hint = "YAML does not allow tab characters for indentation; indent with spaces"
    elif "mapping values are not allowed" in what:
        hint = (
            f"YAML syntax error: {what}; check the indentation of this line against the one "
            "above, or quote a value that contains ': '"
        )
    elif "end of stream" in what and "quoted" in context:
        start = exc.context_mark
        where = f" opened at line {start.line + 1}" if start is not None else ""
        hint = f"YAML syntax error: a quoted string{where} is never closed; add the closing quote"
    elif "undefined alias" in what:
        hint = "YAML syntax error: this alias (*name) names no anchor (&name) written before it; define the anchor first"
    elif "duplicate anchor" in context:
        first = exc.context_mark
        where = f" at line {first.line + 1}" if first is not None else ""
        hint = f"YAML syntax error: this anchor's name was already given to another anchor{where}; rename one of them"
    elif context and exc.context_mark is not None:
        hint = (
            f"YAML syntax error: {what} {context} started at line "
            f"{exc.context_mark.line + 1}; check indentation and closing brackets"
        )
    else:
        hint = f"YAML syntax error: {what}; check indentation, colons and quotes"
    return Problem(hint, path=path, line=line, column=column)


def _char_at(text: str, line: int, column: int) -> str:
    """Return the character at 0-based (`line`, `column`) of `text`, or "" past its end."""
    start = 0
    for _ in range(line):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    index = start + column
    return text[index] if index < len(text) else ""


class _Builder:
    """Turns composed nodes into plain data, reporting what plain data cannot hold.

    A node reached again through an alias is built once and shared (the data is
    read, never changed), so even a "billion laughs" builds fast; but pydantic
    would walk every copy, so the values aliases add are counted against
    `ALIAS_BUDGET` and a document past it is refused.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self._built: dict[int, Any] = {}
        self._sizes: dict[int, int] = {}
        self._aliased = 0

    def _problem(self, node: Node, message: str) -> None:
        self.problems.append(
            Problem(message, path=self.path, line=node.start_mark.line + 1, column=node.start_mark.column + 1)
        )

    def document(self, node: Node) -> Any:
        """Return the plain data of one document's root `node` (None when it cannot be trusted)."""
        try:
            return self.build(node)
        except _Recursive as exc:
            self._problem(exc.node, "this anchor (&name) is used inside itself (a recursive alias); write the value out")
        except _OverBudget as exc:
            self._problem(
                exc.node,
                f"aliases (*name) expand this file by more than {ALIAS_BUDGET:,} values "
                "(a 'billion laughs'?); write the values out, or use fewer aliases",
            )
        except RecursionError:
            self._problem(node, "the document is nested too deeply to read; flatten it")
        return None

    def build(self, node: Node) -> Any:
        """Return the plain data of `node`: dicts, lists and JSON scalars."""
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        known = self._built.get(id(node), _UNSET)
        if known is not _UNSET:
            if known is _BUILDING:
                raise _Recursive(node)
            self._aliased += self._size(node)
            if self._aliased > ALIAS_BUDGET:
                raise _OverBudget(node)
            return known
        self._built[id(node)] = _BUILDING
        value: Any
        if isinstance(node, SequenceNode):
            value = [self.build(item) for item in node.value]
        elif isinstance(node, MappingNode):
            value = self._mapping(node)
        else:
            self._problem(node, "unsupported YAML node")
            value = None
        self._built[id(node)] = value
        return value

    def _size(self, node: Node) -> int:
        """Return how many values `node` holds when written out (a built node: no cycles)."""
        known = self._sizes.get(id(node))
        if known is not None:
            return known
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(self._size(item) for item in node.value)
        elif isinstance(node, MappingNode):
            total += sum(self._size(key) + self._size(value) for key, value in node.value)
        self._sizes[id(node)] = total
        return total

    def _scalar(self, node: ScalarNode) -> Any:
        tag = node.tag
        if tag == _TAG + "str":
            return node.value
        if tag == _TAG + "null":
            return None
        if tag == _TAG + "bool":
            return node.value.lower() == "true"
        if tag == _TAG + "int":
            return _integer(node.value)
        if tag == _TAG + "float":
            return _real(node.value)
        if tag == _TAG + "merge":
            self._problem(node, "merge keys (<<) are not supported; write the fields out")
            return None
        if tag == _TAG + "timestamp":
            # A date stays text: facts hold JSON scalars only.
            return node.value
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


_UNSET = object()
_BUILDING = object()


class _Recursive(Exception):
    def __init__(self, node: Node) -> None:
        self.node = node


class _OverBudget(Exception):
    def __init__(self, node: Node) -> None:
        self.node = node


def _integer(text: str) -> int | str:
    """Return a YAML 1.2 integer's value (`0o17`, `0x1f`, `0b101`, `1_000`); the text when too long."""
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    base = {"0b": 2, "0o": 8, "0x": 16}.get(digits[:2], 10)
    if base != 10:
        digits = digits[2:]
    try:
        return sign * int(digits, base)
    except ValueError:  # `_`, `0x_`, or more digits than Python converts: keep the text
        return text


def _real(text: str) -> float | str:
    """Return a YAML 1.2 float's value; `.inf` and `.nan` stay text (facts hold finite JSON numbers)."""
    try:
        value = float(text.replace("_", ""))
    except ValueError:
        return text
    return value if math.isfinite(value) else text

