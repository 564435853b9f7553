"""YAML files -> models: file shapes, located problems and messages for people (ido.loading)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from ido.errors import Problem, ValidationError
from ido.loading import load_paths, load_workspace
from ido.model import Capability, Op

CAP = """
capabilities:
  - name: pay
    provides: payment
    effects: {order.paid: true}
    cost: 0.25
"""


def problems_of(root: Path, *paths: str) -> list[Problem]:
    """Return the problems loading `paths` (or the workspace at `root`) raises."""
    with pytest.raises(ValidationError) as caught:
        if paths:
            load_paths([root / p for p in paths], checks=False)
        else:
            load_workspace(root)
    return caught.value.problems


def only(problems: list[Problem]) -> Problem:
    """Return the one problem, failing with all of them otherwise."""
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


# ---- file shapes ----------------------------------------------------------------


def test_capabilities_and_observers_lists_load(files: Callable[..., Path]) -> None:
    """A capabilities file holds `capabilities:` and `observers:` lists."""
    root = files({
        "capabilities/a.yaml": CAP + "observers:\n  - {name: obs, facts: [order.paid], sim: true}\n",
    })
    ws = load_workspace(root)
    assert ws.capabilities["pay"].cost == 0.25
    assert ws.observers["obs"].facts == ["order.paid"]


def test_many_documents_per_file(files: Callable[..., Path]) -> None:
    """`---` separates documents; each is read, and empty documents are skipped."""
    root = files({
        "intents/all.yaml": """
            intent: one
            goal: {order.paid: true}
            ---
            ---
            intent: two
            goal: {order.paid: true}
        """,
        "capabilities/a.yaml": CAP,
    })
    ws = load_workspace(root)
    assert sorted(ws.intents) == ["one", "two"]


def test_empty_files_and_missing_folders_are_fine(files: Callable[..., Path]) -> None:
    """An empty file, a comment-only file and absent folders load as an empty workspace."""
    root = files({"capabilities/empty.yaml": "", "policies/comments.yaml": "# nothing yet\n"})
    ws = load_workspace(root)
    assert (ws.capabilities, ws.policies, ws.intents, ws.scenarios) == ({}, {}, {}, {})


def test_single_capability_and_policy_documents(files: Callable[..., Path]) -> None:
    """A mapping with `name` is one capability, observer or policy, told apart by its keys."""
    root = files({
        "capabilities/one.yaml": "name: pay\nprovides: payment\neffects: {order.paid: true}\n",
        "capabilities/obs.yaml": "name: watch\nfacts: [order.paid]\nsim: true\n",
        "policies/one.yaml": "name: no-us\nbecause: EU only.\ndeny: {capability.tags.region: us}\n",
    })
    ws = load_workspace(root)
    assert "pay" in ws.capabilities and "watch" in ws.observers and "no-us" in ws.policies


def test_scenarios_load_from_benchmarks_folder(files: Callable[..., Path]) -> None:
    """benchmarks/scenarios/*.yaml hold scenarios, one per document."""
    root = files({
        "capabilities/a.yaml": CAP,
        "intents/i.yaml": "intent: i\ngoal: {order.paid: true}\n",
        "benchmarks/scenarios/s.yaml": "scenario: s\nintent: i\nfaults: [{target: pay, kind: down, at: 1s, for: 2s}]\n",
    })
    scenario = load_workspace(root).scenarios["s"]
    assert scenario.faults[0].kind == "down" and scenario.faults[0].for_ == 2.0


def test_yml_extension_and_subfolders_are_read(files: Callable[..., Path]) -> None:
    """`.yml` files and files in sub-folders are part of the workspace."""
    root = files({"capabilities/eu/pay.yml": CAP})
    assert "pay" in load_workspace(root).capabilities


def test_load_paths_classifies_files_by_keys(files: Callable[..., Path]) -> None:
    """`load_paths` reads files anywhere, telling their kind from their top-level keys."""
    root = files({"x/caps.yaml": CAP, "x/intent.yaml": "intent: i\ngoal: {order.paid: true}\n"})
    ws = load_paths([root / "x"])
    assert list(ws.capabilities) == ["pay"] and list(ws.intents) == ["i"]


def test_load_paths_reports_missing_paths(files: Callable[..., Path]) -> None:
    """A path that does not exist is a problem naming it."""
    root = files({})
    problem = only(problems_of(root, "nope.yaml"))
    assert problem.path is not None and problem.path.endswith("nope.yaml")
    assert "no such file" in problem.message


def test_load_paths_checks_in_workspace_context(files: Callable[..., Path]) -> None:
    """With a root, references from the named file into the rest of the workspace resolve."""
    root = files({"capabilities/a.yaml": CAP, "intents/i.yaml": "intent: i\ngoal: {order.paid: true}\n"})
    ws = load_paths([root / "intents/i.yaml"], root)
    assert "i" in ws.intents and "pay" in ws.capabilities


# ---- located model errors ---------------------------------------------------------


def test_unknown_field_suggests_the_close_one(files: Callable[..., Path]) -> None:
    """`cots:` is reported at its own line and column with "did you mean 'cost'?"."""
    root = files({"capabilities/a.yaml": CAP.replace("cost: 0.25", "cots: 0.25")})
    problem = only(problems_of(root))
    assert (problem.path, problem.line, problem.column) == ("capabilities/a.yaml", 5, 5)
    assert problem.field == "capabilities[0].cots"
    assert "unknown field 'cots'; did you mean 'cost'?" in problem.message
    assert str(problem).startswith("capabilities/a.yaml:5:5: capabilities[0].cots: unknown field")


def test_unknown_field_without_close_match_lists_fields(files: Callable[..., Path]) -> None:
    """An unknown field with no near name lists the valid fields."""
    root = files({"capabilities/a.yaml": CAP + "    zzzzzz: 1\n"})
    message = only(problems_of(root)).message
    assert "unknown field 'zzzzzz'" in message and "provides" in message and "reliability" in message


def test_unknown_field_in_nested_models(files: Callable[..., Path]) -> None:
    """Typos inside nested mappings (probe, invoke.http, constraints) suggest their own fields."""
    root = files({
        "capabilities/a.yaml": CAP + "    probe: {sim: true, intervl: 5s}\n"
        "    invoke: {http: {url: 'http://x', timout: 2s}}\n",
        "intents/i.yaml": "intent: i\ngoal: {order.paid: true}\nconstraints: {budgett: 3}\n",
    })
    messages = {p.field: p.message for p in problems_of(root)}
    assert "did you mean 'interval'?" in messages["capabilities[0].probe.intervl"]
    assert "did you mean 'timeout'?" in messages["capabilities[0].invoke.http.timout"]
    assert "did you mean 'budget'?" in messages["constraints.budgett"]


def test_alias_names_are_suggested(files: Callable[..., Path]) -> None:
    """Suggestions use the YAML names (`for`, `not`), not Python's (`for_`, `not_`)."""
    root = files({
        "capabilities/a.yaml": CAP + "    requires: {order.ok: {nott: 3}}\n",
        "intents/i.yaml": "intent: i\ngoal: {order.paid: true}\n",
        "benchmarks/scenarios/s.yaml": "scenario: s\nintent: i\nfaults: [{target: pay, kind: down, fr: 2s}]\n",
    })
    messages = {p.field: p.message for p in problems_of(root)}
    assert "did you mean 'not'?" in messages["capabilities[0].requires.order.ok.nott"]
    assert "did you mean 'for'?" in messages["faults[0].fr"]


def test_wrong_types_say_what_was_expected(files: Callable[..., Path]) -> None:
    """A wrong type names the expected type and shows the value given."""
    root = files({
        "capabilities/a.yaml": CAP.replace("cost: 0.25", "cost: abc")
        + "    reliability: high\n    idempotent: maybe\n    tags: {region: [eu]}\n    max_concurrency: lots\n",
    })
    messages = {p.field: p.message for p in problems_of(root)}
    assert messages["capabilities[0].cost"] == "'abc' is not an amount; write a number such as 0.25"
    assert messages["capabilities[0].reliability"] == "expected a number, got 'high'"
    assert messages["capabilities[0].idempotent"] == "expected true or false, got 'maybe'"
    assert messages["capabilities[0].tags.region"].startswith("expected a plain value")
    assert messages["capabilities[0].tags.region"].endswith("got a list")
    assert "expected a whole number" in messages["capabilities[0].max_concurrency"]


def test_bad_duration_uses_the_duration_parser_message(files: Callable[..., Path]) -> None:
    """`latency: 5 sec` reports the accepted duration forms at the value's position."""
    root = files({"capabilities/a.yaml": CAP + "    latency: 5 sec\n"})
    problem = only(problems_of(root))
    assert problem.line == 6 and problem.column == 14
    assert "'5 sec' is not a duration; write it like 250ms, 5s, 2m or 1h" in problem.message


def test_missing_required_field_says_what_it_is(files: Callable[..., Path]) -> None:
    """A missing field is reported at its mapping with what the field is for."""
    root = files({"capabilities/a.yaml": "capabilities:\n  - name: pay\n    effects: {order.paid: true}\n"})
    problem = only(problems_of(root))
    assert problem.field == "capabilities[0].provides"
    assert problem.line == 2
    assert problem.message.startswith("missing; the role this capability fills")


def test_bounds_and_literals(files: Callable[..., Path]) -> None:
    """Out-of-range numbers and wrong choices say the allowed range or options."""
    root = files({
        "capabilities/a.yaml": CAP + "    reliability: 2\n",
        "intents/i.yaml": "intent: i\ngoal: {order.paid: true}\non_failure: compensat\n",
    })
    messages = {p.field: p.message for p in problems_of(root)}
    assert messages["capabilities[0].reliability"] == "must be at most 1, got 2"
    assert messages["on_failure"].startswith("expected one of compensate, stop, got 'compensat'")
    assert "did you mean 'compensate'?" in messages["on_failure"]


def test_bad_names_and_urls(files: Callable[..., Path]) -> None:
    """Names with spaces and URLs without a scheme say how to write them."""
    root = files({"capabilities/a.yaml": CAP.replace("name: pay", "name: pay now") + "    probe: {http: localhost}\n"})
    messages = {p.field: p.message for p in problems_of(root)}
    assert "not a valid name" in messages["capabilities[0].name"]
    assert "not an http(s) URL" in messages["capabilities[0].probe.http"]


def test_unknown_fault_kind_suggests_and_lists(files: Callable[..., Path]) -> None:
    """A misspelt fault kind is located at `kind` with a suggestion."""
    root = files({"x.yaml": "scenario: s\nintent: i\nfaults:\n  - {target: pay, kind: dwn}\n  - {target: pay}\n"})
    problems = problems_of(root, "x.yaml")
    by_field = {p.field: p for p in problems}
    assert "unknown kind 'dwn'; did you mean 'down'?" in by_field["faults[0].kind"].message
    assert by_field["faults[0].kind"].line == 4
    assert "missing `kind`" in by_field["faults[1]"].message and "lying_probe" in by_field["faults[1]"].message


def test_selector_errors_are_located_inside_the_selector(files: Callable[..., Path]) -> None:
    """A bad key inside a target selector is reported there, not as "expected a text"."""
    root = files({"x.yaml": "scenario: s\nintent: i\nfaults:\n  - {target: {provides: pay, tagz: {a: 1}}, kind: down}\n"})
    problem = only(problems_of(root, "x.yaml"))
    assert problem.field == "faults[0].target.tagz"
    assert "did you mean 'tags'?" in problem.message


def test_model_level_rules_are_located_at_the_declaration(files: Callable[..., Path]) -> None:
    """Exactly-one rules (policy rule, invoke door) are reported at the declaration or field."""
    root = files({
        "policies/p.yaml": "policies:\n  - name: p\n    because: b\n    deny: {capability.name: x}\n    prefer: {capability.name: y}\n",
        "capabilities/a.yaml": CAP + "    invoke: {sim: {}, python: 'm:f'}\n",
    })
    messages = {p.field: p.message for p in problems_of(root)}
    assert "takes exactly one rule" in messages["policies[0]"]
    assert "invoke takes exactly one of http, python, sim; got python, sim" in messages["capabilities[0].invoke"]


def test_all_problems_are_reported_at_once(files: Callable[..., Path]) -> None:
    """Problems in several declarations and files come together, in file and line order."""
    root = files({
        "capabilities/a.yaml": CAP.replace("cost: 0.25", "cots: 1") + "  - name: b\n    provides: x\n    effects: {}\n",
        "capabilities/b.yaml": CAP.replace("cost: 0.25", "latency: soon"),
    })
    problems = problems_of(root)
    assert [(p.path, p.line) for p in problems] == [
        ("capabilities/a.yaml", 5),
        ("capabilities/a.yaml", 6),
        ("capabilities/b.yaml", 5),
    ]


def test_top_level_typo_in_file_shape(files: Callable[..., Path]) -> None:
    """`capabilites:` is an unknown top-level key with a suggestion, not silence."""
    root = files({"capabilities/a.yaml": CAP.replace("capabilities:", "capabilites:")})
    problem = only(problems_of(root))
    assert "did you mean 'capabilities'?" in problem.message and problem.line == 1


def test_extra_top_level_key_beside_a_list(files: Callable[..., Path]) -> None:
    """An unknown key next to `capabilities:` is reported with the keys a list file takes."""
    root = files({"capabilities/a.yaml": CAP + "observer: []\n"})
    problem = only(problems_of(root))
    assert problem.field == "observer" and "did you mean 'observers'?" in problem.message


def test_list_file_with_a_mapping_instead_of_a_list(files: Callable[..., Path]) -> None:
    """`capabilities:` followed by a mapping says a list is expected."""
    root = files({"capabilities/a.yaml": "capabilities:\n  name: pay\n  provides: payment\n"})
    assert "expected a list of capabilities" in only(problems_of(root)).message


def test_document_that_is_not_a_mapping(files: Callable[..., Path]) -> None:
    """A document that is a list or a word says which shapes a file may have."""
    root = files({"policies/p.yaml": "- a\n- b\n"})
    problem = only(problems_of(root))
    assert "expected a mapping" in problem.message and "policies: [...]" in problem.message


# ---- YAML syntax ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("capabilities:\n\t- name: a\n", 2, "tab characters"),
        ("capabilities:\n  - name: 'pay\n", 3, "quoted string opened at line 2 is never closed"),
        ("capabilities:\n  - name: a\n   provides: x\n", 3, "check indentation"),
        ("capabilities: [a, b\n", 2, "check indentation"),
        ("a: {b: 1\n", 2, "YAML syntax error"),
    ],
)
def test_syntax_errors_become_located_problems(files: Callable[..., Path], text: str, line: int, words: str) -> None:
    """Broken indentation, tabs, unclosed quotes and brackets give one located problem, no traceback."""
    root = files({"capabilities/a.yaml": text})
    problem = only(problems_of(root))
    assert problem.path == "capabilities/a.yaml" and problem.line == line and problem.column is not None
    assert words in problem.message


def test_duplicate_keys_are_problems(files: Callable[..., Path]) -> None:
    """A key given twice in one mapping is reported at the second, naming the first's line."""
    root = files({"capabilities/a.yaml": CAP + "    cost: 0.5\n"})
    problem = only(problems_of(root))
    assert problem.line == 6 and "duplicate key 'cost'" in problem.message and "line 5" in problem.message


def test_non_utf8_bytes_are_located(files: Callable[..., Path]) -> None:
    """Bytes that are not UTF-8 are reported at their line, asking for UTF-8."""
    root = files({})
    (root / "capabilities").mkdir()
    (root / "capabilities/a.yaml").write_bytes(b"capabilities:\n  - name: caf\xe9\n")
    problem = only(problems_of(root))
    assert problem.line == 2 and "UTF-8" in problem.message


def test_control_characters_are_located(files: Callable[..., Path]) -> None:
    """A NUL or other control character is a located problem."""
    root = files({"capabilities/a.yaml": "capabilities:\n  - name: a\x00\n"})
    problem = only(problems_of(root))
    assert problem.line == 2 and "not allowed" in problem.message


def test_unsupported_tags_and_merge_keys(files: Callable[..., Path]) -> None:
    """Python object tags and merge keys are refused with a located message."""
    root = files({
        "capabilities/a.yaml": "capabilities:\n  - name: !!python/object:os.system x\n",
        "capabilities/b.yaml": "base: &b {provides: x}\ncapabilities:\n  - <<: *b\n    name: y\n",
    })
    messages = [p.message for p in problems_of(root)]
    assert any("tag" in m and "not supported" in m for m in messages)
    assert any("merge keys" in m for m in messages)


def test_anchors_and_aliases_are_expanded(files: Callable[..., Path]) -> None:
    """Aliases reuse a value written once (plain YAML), e.g. shared tags."""
    root = files({
        "capabilities/a.yaml": """
            capabilities:
              - {name: a, provides: p, effects: {x.y: true}, tags: &eu {region: eu}}
              - {name: b, provides: p, effects: {x.y: true}, tags: *eu}
        """,
    })
    assert load_workspace(root).capabilities["b"].tags == {"region": "eu"}


def test_yaml_1_2_keeps_yes_a_string_and_dates_text(files: Callable[..., Path]) -> None:
    """YAML 1.2: `yes` is a string (not true) and dates stay text (facts hold JSON scalars)."""
    root = files({
        "capabilities/a.yaml": "capabilities:\n  - {name: a, provides: p, effects: {x.y: yes, x.d: 2024-01-01}}\n",
    })
    assert load_workspace(root).capabilities["a"].effects == {"x.y": "yes", "x.d": "2024-01-01"}


def test_problem_paths_are_relative_to_the_current_folder(files: Callable[..., Path]) -> None:
    """Problems below the current folder carry a relative path, outside it the path as given."""
    root = files({"capabilities/a.yaml": CAP.replace("0.25", "x")})
    assert only(problems_of(root)).path == "capabilities/a.yaml"


# ---- models built right -----------------------------------------------------------


def test_matchers_and_durations_are_built(files: Callable[..., Path]) -> None:
    """Operator matchers become Op models and durations become seconds."""
    root = files({
        "capabilities/a.yaml": """
            capabilities:
              - name: a
                provides: p
                requires: {x.n: {gte: 3}, x.r: {in: [eu, us]}, x.s: {exists: false}}
                effects: {x.done: true}
                latency: 1m30s
                timeout: 250ms
        """,
    })
    cap = load_workspace(root).capabilities["a"]
    assert isinstance(cap, Capability)
    assert cap.latency == 90.0 and cap.timeout == 0.25
    assert isinstance(cap.requires["x.n"], Op) and cap.requires["x.n"].operator == "gte"
    assert cap.requires["x.r"] == Op.model_validate({"in": ["eu", "us"]})


def test_invoke_sim_shorthand(files: Callable[..., Path]) -> None:
    """`invoke: sim` is the simulated door; `invoke: {python: m:f}` the python one."""
    root = files({
        "capabilities/a.yaml": CAP + "    invoke: sim\n  - {name: b, provides: p, effects: {x.y: 1}, invoke: {python: 'pkg.mod:run'}}\n",
    })
    ws = load_workspace(root)
    assert ws.capabilities["pay"].invoke.door == "sim"
    assert ws.capabilities["b"].invoke.python == "pkg.mod:run"


def test_named_file_redeclaring_a_workspace_name_is_blamed(files: Callable[..., Path]) -> None:
    """`ido validate copy.yaml` of a declaration the workspace already has reports the copy."""
    root = files({"capabilities/a.yaml": CAP, "drafts/copy.yaml": CAP})
    with pytest.raises(ValidationError) as caught:
        load_paths([root / "drafts/copy.yaml"], root)
    problem = only(caught.value.problems)
    assert problem.path == "drafts/copy.yaml" and "already declared at capabilities/a.yaml:2" in problem.message


def test_union_branch_rules_win_over_type_lists(files: Callable[..., Path]) -> None:
    """An empty selector reports the selector's own rule, not "expected a text or a mapping"."""
    root = files({"x.yaml": "scenario: s\nintent: i\nfaults:\n  - {target: {}, kind: down}\n"})
    assert only(problems_of(root, "x.yaml")).message == "a target selector needs `provides` or `tags`"


def test_missing_fields_of_optional_nested_models_say_what_they_are(files: Callable[..., Path]) -> None:
    """`quota: {calls: 5}` says what `per` is, although quota itself is optional."""
    root = files({"capabilities/a.yaml": CAP + "    quota: {calls: 5}\n"})
    problem = only(problems_of(root))
    assert problem.field == "capabilities[0].quota.per"
    assert problem.message == "missing; the window of the quota, such as 1s or 1m"


def test_invoke_with_a_bare_word_shows_the_shorthand(files: Callable[..., Path]) -> None:
    """`invoke: python` explains the forms invoke takes, including `sim`."""
    root = files({"capabilities/a.yaml": CAP + "    invoke: python\n"})
    message = only(problems_of(root)).message
    assert message.startswith("expected `sim`, or a mapping with one of http, python, sim")
    assert message.endswith("got 'python'")
