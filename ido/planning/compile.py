"""Compile a capability registry to an integer planning task, once per registry revision.

Called by `ido.planning.planner.Planner` at construction. Facts become integer
variables with finite domains (every value a capability's `requires` or
`effects` mentions); capabilities become operators whose preconditions are,
per variable, the set of value indices the matcher admits, and whose effects
assign value indices. Each domain reserves three indices:

- `ABSENT` (0): the fact is not in the state;
- `KNOWN` (1): a capability `reports` the fact, so it exists with a value known
  only at run time (only `{exists: true}` is sure to hold for it);
- `OTHER` (2): the state holds a value no capability mentions; as no capability
  can produce it, it can only be the initial value, and each plan call decides
  per matcher whether that concrete value holds (`Compiled.admits`).

Relevance (`Compiled.relevant`) is the backward closure over the fact/action
graph: an operator matters only if it writes a variable the goal or a
relevant operator's precondition reads. It is cached per set of goal
variables, and walks a writers index in plain Python rather than a networkx
graph (the same closure, without building a graph of the whole registry).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from ido.model.capability import Capability
from ido.model.conditions import Op, matcher_holds

ABSENT = 0
KNOWN = 1
OTHER = 2
FIRST_VALUE = 3

Matcher = Any  # a Scalar literal or an `Op`


def value_key(value: Any) -> tuple[type, Any]:
    """Return a dict key for a fact value that keeps `True` apart from `1`."""
    return (type(value), value)


def equal_key(value: Any) -> tuple[bool, Any]:
    """Return a dict key under which values equal by `same_value` meet (1 and 1.0, never True and 1)."""
    return (isinstance(value, bool), value)


@dataclass(slots=True)
class Variable:
    """One fact: its name, its values (index -> value; 0-2 are reserved) and the reverse indices."""

    name: str
    values: list[Any]
    index: dict[tuple[type, Any], int]
    #: `equal_key(value)` -> the indices of every value equal to it (1 and 1.0 are two values)
    equal: dict[tuple[bool, Any], list[int]] = field(default_factory=dict)

    def value_index(self, present: bool, value: Any) -> int:
        """Return the index of a state's value for this fact (OTHER when no capability mentions it)."""
        if not present:
            return ABSENT
        return self.index.get(value_key(value), OTHER)


class Precondition(NamedTuple):
    """One entry of a condition: variable, the matcher, and the value indices it admits.

    `admits` never contains OTHER: whether the call's concrete initial value holds
    is decided per plan call. A named tuple: immutable, and built far faster than a
    frozen dataclass (a registry has one per distinct literal entry).
    """

    var: int
    matcher: Matcher
    admits: frozenset[int]


@dataclass(slots=True, eq=False)
class Operator:
    """A compiled capability: preconditions, effects (var -> value index) and its numbers.

    Not frozen (a frozen dataclass pays `object.__setattr__` per field, and a registry
    compiles thousands), but never changed after `Compiled` builds it.
    """

    index: int
    capability: Capability
    pre: tuple[Precondition, ...]
    eff: tuple[tuple[int, int], ...]
    reads: frozenset[int]
    writes: frozenset[int]
    #: sorted: the variables it reads but does not write, those it writes, and both together
    reads_only: tuple[int, ...] = ()
    writes_sorted: tuple[int, ...] = ()
    waits: tuple[int, ...] = ()

    @property
    def name(self) -> str:
        """Return the capability's name."""
        return self.capability.name


def matcher_admits(matcher: Matcher, index: int, var: Variable) -> bool:
    """Return whether `matcher` holds for value index `index` of `var` (never called with OTHER)."""
    if index == ABSENT:
        return matcher_holds(matcher, None, False)
    if index == KNOWN:
        # A reported value is unknown until run time: only existence is certain.
        return isinstance(matcher, Op) and matcher.operator == "exists" and matcher.exists is True
    return matcher_holds(matcher, var.values[index], True)


class Compiled:
    """The integer task of a registry: variables, operators, writer index, relevance cache."""

    def __init__(self, capabilities: Sequence[Capability]) -> None:
        caps = sorted(capabilities, key=_name)
        names = [c.name for c in caps]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})[0]
            raise ValueError(f"capability {dup!r} is declared twice; capability names are unique")
        self.variables: list[Variable] = []
        self.var_index: dict[str, int] = {}
        self._literal: dict[tuple[int, tuple[type, Any]], Precondition] = {}
        # One pass collects every variable's domain and each capability's entries over variable
        # indices; a second builds the operators once the domains are complete (a matcher's
        # admitted values depend on the whole domain). Plain loops with the lookups bound to
        # locals: `ido plan` and one-shot callers pay this on every call.
        var_index = self.var_index
        var_of = self._var
        value = self._value
        # per variable, value key -> index (the `Variable.index` dicts): a literal already
        # seen, the common case, costs one lookup here instead of a call to `_value`
        known: list[dict[tuple[type, Any], int]] = []
        self._known = known
        # Each distinct (variable, literal) entry gets one slot, compiled once after this pass
        # (an entry's admitted values depend on the whole domain); operator matchers get one each.
        slots: dict[tuple[int, type, Any], int] = {}
        slot_entries: list[tuple[int, Matcher]] = []
        entries: list[tuple[list[tuple[str, int, int]], list[tuple[int, int]]]] = []
        for cap in caps:
            req: list[tuple[str, int, int]] = []
            # declaration order here: it numbers the variables and values (and so decides
            # ties deep in the heuristics); the operator's entries are sorted by fact below
            for fact, matcher in cap.requires.items():
                var = var_index.get(fact)
                if var is None:
                    var = var_of(fact)
                if isinstance(matcher, Op):
                    for v in _matcher_values(matcher):
                        value(var, v)
                    slot = len(slot_entries)
                    slot_entries.append((var, matcher))
                else:
                    key = (var, type(matcher), matcher)
                    known_slot = slots.get(key)
                    if known_slot is None:
                        value(var, matcher)
                        slot = slots[key] = len(slot_entries)
                        slot_entries.append((var, matcher))
                    else:
                        slot = known_slot
                req.append((fact, var, slot))
            if len(req) > 1:
                req.sort()  # by fact: the facts of one mapping are distinct
            eff: dict[int, int] = {var_of(fact): KNOWN for fact in cap.reports} if cap.reports else {}
            for fact, v in cap.effects.items():
                var = var_index.get(fact)
                if var is None:
                    var = var_of(fact)
                idx = known[var].get((type(v), v))
                eff[var] = value(var, v) if idx is None else idx
            entries.append((req, sorted(eff.items()) if len(eff) > 1 else list(eff.items())))
        precondition = self.precondition
        compiled_slots = [precondition(var, matcher) for var, matcher in slot_entries]
        operators: list[Operator] = []
        append = operators.append
        for i, cap in enumerate(caps):
            req, eff_items = entries[i]
            writes_sorted = tuple([var for var, _ in eff_items])
            writes = frozenset(writes_sorted)
            reads = frozenset([var for _, var, _ in req])
            append(Operator(
                i, cap, tuple([compiled_slots[slot] for _, _, slot in req]), tuple(eff_items), reads, writes,
                tuple(sorted(reads - writes)) if reads else (), writes_sorted,
                tuple(sorted(reads | writes)) if reads else writes_sorted,
            ))
        self.operators = operators
        self.by_name: dict[str, Operator] = {op.name: op for op in self.operators}
        self.writers: list[list[int]] = [[] for _ in self.variables]
        self.roles: dict[str, list[int]] = {}
        for op in self.operators:
            for var in op.writes:
                self.writers[var].append(op.index)
            self.roles.setdefault(op.capability.provides, []).append(op.index)
        self._relevant: dict[frozenset[int], list[int]] = {}

    def _var(self, fact: str) -> int:
        idx = self.var_index.get(fact)
        if idx is None:
            idx = len(self.variables)
            self.var_index[fact] = idx
            self.variables.append(Variable(fact, [None, None, None], {}))
            self._known.append(self.variables[idx].index)
        return idx

    def _value(self, var: int, value: Any) -> int:
        v = self.variables[var]
        key = (type(value), value)
        idx = v.index.get(key)
        if idx is None:
            idx = len(v.values)
            v.values.append(value)
            v.index[key] = idx
            v.equal.setdefault((isinstance(value, bool), value), []).append(idx)
        return idx

    def precondition(self, var: int, matcher: Matcher) -> Precondition:
        """Return the compiled entry `fact matcher` over variable `var`'s known values.

        A literal (the common case) admits exactly the values equal to it: looked up
        in the variable's equality index and shared between operators, instead of
        testing every value of the domain.
        """
        if not isinstance(matcher, Op) and matcher == matcher:  # a literal, and not NaN
            key = (var, (type(matcher), matcher))
            hit = self._literal.get(key)
            if hit is None:
                equal = self.variables[var].equal.get((isinstance(matcher, bool), matcher), [])
                hit = Precondition(var, matcher, frozenset(equal))
                self._literal[key] = hit
            return hit
        v = self.variables[var]
        admits = frozenset(
            i for i in range(len(v.values)) if i != OTHER and matcher_admits(matcher, i, v)
        )
        return Precondition(var, matcher, admits)

    def relevant(self, goal_vars: frozenset[int]) -> list[int]:
        """Return indices of operators that can matter for a goal over `goal_vars`, sorted.

        Backward closure: writers of goal variables, then writers of the variables
        their preconditions read, and so on. Cached per goal variable set.
        """
        cached = self._relevant.get(goal_vars)
        if cached is not None:
            return cached
        seen_vars = set(goal_vars)
        frontier = list(goal_vars)
        ops: set[int] = set()
        while frontier:
            var = frontier.pop()
            for op_index in self.writers[var]:
                if op_index in ops:
                    continue
                ops.add(op_index)
                for read in self.operators[op_index].reads:
                    if read not in seen_vars:
                        seen_vars.add(read)
                        frontier.append(read)
        result = sorted(ops)
        if len(self._relevant) > 1024:
            self._relevant.clear()
        self._relevant[goal_vars] = result
        return result

    def initial(self, state: Mapping[str, Any]) -> list[int]:
        """Return the value index of every variable in `state` (ABSENT / OTHER as needed)."""
        # `Variable.value_index` inlined: the planner's memo computes this for every plan call
        out = []
        for v in self.variables:
            name = v.name
            if name in state:
                value = state[name]
                out.append(v.index.get((type(value), value), OTHER))
            else:
                out.append(ABSENT)
        return out


def _name(cap: Capability) -> str:
    return cap.name


def _matcher_values(matcher: Matcher) -> list[Any]:
    if isinstance(matcher, Op):
        op = matcher.operator
        arg = matcher.operand(op)
        if op in ("in", "not_in"):
            return list(arg)
        if op == "not":
            return [arg]
        return []
    return [matcher]
