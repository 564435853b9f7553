"""Properties of the loader: model -> YAML -> model is the identity, and mutated valid files
never raise anything but ValidationError, every problem located at a path and line."""

from __future__ import annotations

import io
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from ruamel.yaml import YAML

from ido.errors import ValidationError
from ido.loading import load_paths, load_workspace
from ido.loading.documents import FOLDERS, yaml_files
from ido.secrets import REVEAL
from tests import strategies as S

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_FILES = [p.relative_to(REPO) for folder in FOLDERS for p in yaml_files(REPO / folder)]


def dump_yaml(data: Any, *, flow: bool = False) -> str:
    """Return `data` as YAML text (block style, or flow style when `flow`)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def file_form(model: BaseModel) -> dict[str, Any]:
    """Return a model as it is written in a file (its secrets kept: a file holds what its author wrote;
    every other dump masks them, `ido.secrets`)."""
    return model.model_dump(mode="json", by_alias=True, exclude_none=True, context=REVEAL)


@contextmanager
def scratch() -> Iterator[Path]:
    """Yield a fresh folder, removed afterwards (hypothesis examples cannot share tmp_path)."""
    folder = Path(tempfile.mkdtemp(prefix="ido-prop-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def load_one(text: str) -> Any:
    """Return the workspace loaded (unchecked) from one file holding `text`."""
    with scratch() as folder:
        path = folder / "file.yaml"
        path.write_text(text)
        return load_paths([path], checks=False)


# ---- round trips -------------------------------------------------------------------


@given(S.capabilities(), st.booleans())
def test_capability_round_trips_through_yaml(capability: Any, flow: bool) -> None:
    """A capability dumped in a capabilities file loads back equal."""
    ws = load_one(dump_yaml({"capabilities": [file_form(capability)]}, flow=flow))
    assert ws.capabilities == {capability.name: capability}


@given(S.observers())
def test_observer_round_trips_through_yaml(observer: Any) -> None:
    """An observer dumped in a capabilities file loads back equal."""
    ws = load_one(dump_yaml({"observers": [file_form(observer)]}))
    assert ws.observers == {observer.name: observer}


@given(S.intents())
def test_intent_round_trips_through_yaml(intent: Any) -> None:
    """An intent dumped as a document loads back equal."""
    assert load_one(dump_yaml(file_form(intent))).intents == {intent.intent: intent}


@given(S.policies())
def test_policy_round_trips_through_yaml(policy: Any) -> None:
    """A policy dumped in a policies file loads back equal."""
    assert load_one(dump_yaml({"policies": [file_form(policy)]})).policies == {policy.name: policy}


@given(S.scenarios())
def test_scenario_round_trips_through_yaml(scenario: Any) -> None:
    """A scenario (every fault kind, selectors, aliases `for`/`set`) loads back equal."""
    assert load_one(dump_yaml(file_form(scenario))).scenarios == {scenario.scenario: scenario}


@given(st.lists(S.intents(), min_size=1, max_size=4, unique_by=lambda i: i.intent))
def test_many_documents_round_trip(intents: list[Any]) -> None:
    """Several intents in one file, separated by `---`, load back equal."""
    text = "---\n".join(dump_yaml(file_form(i)) for i in intents)
    assert load_one(text).intents == {i.intent: i for i in intents}


# ---- mutations --------------------------------------------------------------------


def garbage() -> st.SearchStrategy[Any]:
    """Return a strategy of values of the wrong shape anywhere in a file."""
    return st.one_of(
        st.none(), st.booleans(), st.integers(-10, 10**12), st.floats(allow_nan=False),
        st.text(max_size=10), st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
    )


def paths_in(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Return the path of every value inside `data`."""
    out = [prefix]
    if isinstance(data, dict):
        for key, value in data.items():
            out += paths_in(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out += paths_in(value, (*prefix, index))
    return out


def mutate_data(data: Any, path: tuple[Any, ...], action: str, value: Any) -> Any:
    """Return `data` with the value at `path` deleted or replaced by `value`."""
    if not path:
        return value
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    if action == "delete":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


@st.composite
def mutated_text(draw: st.DrawFn, text: str) -> str:
    """Draw a text edit: a random byte edit, broken indentation, a tab, or a truncation."""
    action = draw(st.sampled_from(["byte", "indent", "dedent", "tab", "truncate", "duplicate"]))
    lines = text.splitlines(keepends=True) or [""]
    index = draw(st.integers(0, len(lines) - 1))
    if action == "byte":
        raw = bytearray(text.encode())
        pos = draw(st.integers(0, max(0, len(raw) - 1)))
        byte = draw(st.integers(0, 255))
        how = draw(st.sampled_from(["insert", "replace", "delete"]))
        if how == "insert":
            raw.insert(pos, byte)
        elif raw and how == "replace":
            raw[pos] = byte
        elif raw:
            del raw[pos]
        return raw.decode("latin-1")
    if action == "indent":
        lines[index] = " " * draw(st.integers(1, 3)) + lines[index]
    elif action == "dedent":
        lines[index] = lines[index].lstrip(" ")
    elif action == "tab":
        lines[index] = "\t" + lines[index]
    elif action == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    else:
        lines.insert(index, lines[index])
    return "".join(lines)


def assert_only_located_validation_errors(root: Path, path: Path | None = None) -> None:
    """Load the workspace (or one path); any failure must be a ValidationError with located problems."""
    try:
        if path is None:
            load_workspace(root)
        else:
            load_paths([path], root)
    except ValidationError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.path is not None and problem.line is not None, str(problem)
            assert problem.line >= 1
            assert problem.message


@given(st.sampled_from(EXAMPLE_FILES), st.data())
def test_mutated_example_files_give_located_problems(rel: Path, data: st.DataObject) -> None:
    """Text edits of an example file (bytes, indentation, tabs, truncation) never crash the loader."""
    with scratch() as root:
        for other in EXAMPLE_FILES:
            (root / other).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / other, root / other)
        text = (REPO / rel).read_text()
        (root / rel).write_bytes(data.draw(mutated_text(text)).encode("latin-1"))
        assert_only_located_validation_errors(root)


@given(st.sampled_from(EXAMPLE_FILES), st.data())
def test_structurally_mutated_example_files_give_located_problems(rel: Path, data: st.DataObject) -> None:
    """Deleted keys and wrong-typed values anywhere in an example file never crash the loader."""
    documents = list(YAML(typ="safe", pure=True).load_all((REPO / rel).read_text()))
    index = data.draw(st.integers(0, len(documents) - 1))
    target = data.draw(st.sampled_from(paths_in(documents[index])))
    action = data.draw(st.sampled_from(["delete", "replace"])) if target else "replace"
    documents[index] = mutate_data(documents[index], target, action, data.draw(garbage()))
    with scratch() as root:
        for other in EXAMPLE_FILES:
            (root / other).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(REPO / other, root / other)
        (root / rel).write_text("---\n".join(dump_yaml(d) for d in documents))
        assert_only_located_validation_errors(root)


@given(st.one_of(S.capabilities(), S.intents(), S.policies(), S.scenarios(), S.observers()), st.data())
def test_mutated_generated_declarations_give_located_problems(model: Any, data: st.DataObject) -> None:
    """Generated declarations with a key deleted or a value replaced by garbage fail only with
    located problems."""
    form = file_form(model)
    wrapped: Any = {"capabilities": [form]} if "provides" in form else (
        {"observers": [form]} if "facts" in form else {"policies": [form]} if "because" in form else form
    )
    target = data.draw(st.sampled_from(paths_in(wrapped)))
    action = data.draw(st.sampled_from(["delete", "replace"])) if target else "replace"
    mutated = mutate_data(wrapped, target, action, data.draw(garbage()))
    with scratch() as root:
        path = root / "file.yaml"
        path.write_text(dump_yaml(mutated))
        assert_only_located_validation_errors(root, path)
