"""Readable text for `ido explain` and `ido why-not`: a timeline people can follow.

`render_explanation` and `render_why_not` return rich renderables (styled
text that degrades to plain text when not on a terminal); `to_text` turns
one into a string. Called by `ido.cli.journal` and usable from Python.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console, Group, RenderableType
from rich.text import Text

from ido.explain import ExplainedDecision, ExplainedOutcome, Explanation, WhyNot
from ido.health import CapabilityHealth, Circuit
from ido.model.values import format_duration
from ido.planning.types import Alternative, Verdict

_STATUS_STYLE = {
    "succeeded": "bold green", "failed": "bold red", "compensated": "bold yellow",
    "compensation_failed": "bold red", "blocked": "bold yellow", "running": "bold cyan",
    "waiting_approval": "bold magenta",
}
_VERDICT_STYLE: dict[str, str] = {
    Verdict.CHOSEN: "green", Verdict.DENIED: "red", Verdict.UNHEALTHY: "red",
    Verdict.COSTLIER: "dim", Verdict.NOT_NEEDED: "dim", Verdict.REJECTED: "red",
}


def to_text(renderable: RenderableType, *, width: int = 100, color: bool = False) -> str:
    """Return `renderable` as a string (plain unless `color`), e.g. for tests and logs."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system="standard" if color else None,
            force_terminal=color, highlight=False).print(renderable)
    return buffer.getvalue()


def render_explanation(explanation: Explanation, *, full: bool = False) -> RenderableType:
    """Return the run's story: one summary sentence, a header, the moves, then each decision.

    Alternatives a decision repeats unchanged (same verdict and reason) from the
    previous decision are collapsed into one line naming them; `full` shows
    every alternative of every decision (`ido explain --full`).
    """
    e = explanation
    parts: list[RenderableType] = []
    if e.summary:
        parts.append(Text(e.summary, style="bold"))
    head = Text()
    head.append(f"run {e.run_id}", style="bold")
    head.append(f"  intent {e.intent}  ")
    head.append(e.status, style=_STATUS_STYLE.get(e.status, "bold"))
    head.append(
        f"  cost {e.cost:g}  {e.steps_executed} step{'s' if e.steps_executed != 1 else ''} executed"
        f"  {len(e.decisions)} decision{'s' if len(e.decisions) != 1 else ''}"
        f"  started {_when(e.created_at)}"
    )
    parts.append(head)
    for c in e.conditions:
        message = f": {c.message}" if c.message else ""
        parts.append(Text(f"  {c.type}={str(c.status).lower()}  {c.reason}{message}", style="dim"))
    if e.faults:
        faults = ", ".join(f"{f.fault}" + (f" on {f.capability}" if f.capability else "") for f in e.faults)
        parts.append(Text(f"  injected faults: {faults}", style="yellow"))
    if e.moves:
        parts.append(Text("moves:", style="bold"))
        for m in e.moves:
            line = Text(f"  #{m.seq} ")
            line.append(m.move.replace("_", " "), style="bold cyan")
            line.append(f": {m.what}")
            if m.why:
                line.append(f" - {m.why}")
            if m.cause:
                line.append(f" (after: {m.cause})", style="dim")
            parts.append(line)
    previous: ExplainedDecision | None = None
    for d in e.decisions:
        parts.append(Text(""))
        parts.extend(_decision(d, None if full else previous))
        previous = d
    if e.notes:
        parts.append(Text(""))
        parts.append(Text("notes", style="bold"))
        parts.extend(Text(f"  {n}", style="dim") for n in e.notes)
    if not e.decisions:
        parts.append(Text("  no decisions recorded yet", style="dim"))
    return Group(*parts)


def _decision(d: ExplainedDecision, previous: ExplainedDecision | None = None) -> list[RenderableType]:
    out: list[RenderableType] = []
    title = Text()
    title.append(f"#{d.seq} ", style="bold")
    title.append(f"{d.trigger.replace('_', ' ')} -> {d.action}", style="bold cyan")
    if d.cause:
        title.append(f"  ({d.cause})")
    title.append(f"   {d.at}", style="dim")
    out.append(title)
    if d.gap:
        gap = "; ".join(
            f"{fact} want {g.get('want', '?')}, have {_value(g.get('have'))}" for fact, g in d.gap.items()
        )
        out.append(Text(f"   gap: {gap}"))
    if d.chosen and d.action == "await_approval":
        line = Text("   waits for approval: ")
        line.append(", ".join(d.chosen), style="bold magenta")
        asked = f" (asked by {', '.join(d.approval)})" if d.approval else ""
        line.append(f"{asked}; not sent until a person approves")
        out.append(line)
        if d.answer is not None:
            verb = "approved" if d.answer.approved else "rejected"
            who = f" by {d.answer.by}" if d.answer.by else ""
            out.append(Text(f"   answer: {d.answer.capability} {verb}{who} at {d.answer.at}",
                            style="green" if d.answer.approved else "red"))
    elif d.chosen:
        line = Text("   chose: ")
        line.append(", ".join(d.chosen), style="bold green")
        if d.reason:
            line.append(f" - {d.reason}")
        out.append(line)
    elif d.reason:
        out.append(Text(f"   {d.reason}"))
    # Capabilities whose role is not needed now say little one by one: list them on one line.
    shown = [a for a in d.alternatives if a.verdict != Verdict.NOT_NEEDED]
    idle = [a.capability for a in d.alternatives if a.verdict == Verdict.NOT_NEEDED]
    same: list[str] = []
    if previous is not None:
        # what the previous decision already said in the same words is named, not repeated
        before = {_said(a) for a in previous.alternatives}
        same = [a.capability for a in shown if _said(a) in before and _mark(d, a) not in (">", "?")]
        shown = [a for a in shown if a.capability not in same]
    if shown:
        out.append(Text(
            "   alternatives (+ in the chosen plan, > dispatched now"
            + (", ? waits for approval, not sent):" if d.action == "await_approval" else "):")
        ))
        width = max(len(a.capability) for a in shown)
        vwidth = max(len(str(a.verdict)) for a in shown)
        out.extend(_alternative(a, width, vwidth, _mark(d, a)) for a in shown)
    if same:
        out.append(Text(f"   unchanged since #{previous.seq if previous else '?'} ({len(same)}): "
                        f"{', '.join(same)} (--full shows them)", style="dim"))
    if idle and previous is not None and idle == [a.capability for a in previous.alternatives
                                                   if a.verdict == Verdict.NOT_NEEDED]:
        out.append(Text(f"   not needed now: the same {len(idle)} as #{previous.seq}", style="dim"))
    elif idle:
        out.append(Text(f"   not needed now ({len(idle)}): {', '.join(idle)}", style="dim"))
    health = _health_lines(d.health)
    if health:
        out.append(Text("   health: " + "; ".join(health), style="yellow"))
    constraints = _remaining(d)
    if constraints:
        out.append(Text(f"   remaining: {constraints}", style="dim"))
    if d.constraints:
        out.append(Text("   constraints that excluded: " + ", ".join(d.constraints), style="yellow"))
    if d.faults and (previous is None or previous.faults != d.faults):
        out.append(Text("   faults in force: " + ", ".join(d.faults), style="yellow"))
    out.extend(_outcome(o) for o in d.outcomes)
    out.extend(Text(f"   note: {n}", style="dim") for n in d.notes)
    return out


def _said(a: Alternative) -> tuple[object, ...]:
    """Return what an alternative says, for "unchanged since": a costlier one by its margin.

    A costlier alternative's reason quotes the absolute score of the best plan
    with it, which moves as the run progresses; its margin over the chosen plan
    is what the reader compares.
    """
    if a.verdict == Verdict.COSTLIER and a.score_delta is not None:
        return (a.capability, str(a.verdict), round(a.score_delta, 4), tuple(a.policies))
    return (a.capability, str(a.verdict), a.reason)


def _mark(d: ExplainedDecision, a: Alternative) -> str:
    """Return ">" for a capability the decision sent, "?" for one it asked approval for, "+"/"-"."""
    if a.capability in d.dispatched:
        return ">"
    if d.action == "await_approval" and a.capability in d.chosen:
        return "?"
    return "+" if a.verdict == Verdict.CHOSEN else "-"


def _alternative(a: Alternative, width: int, vwidth: int, mark: str) -> Text:
    line = Text(f"     {mark} ")
    line.append(a.capability.ljust(width), style="bold" if a.verdict == Verdict.CHOSEN else "")
    line.append("  ")
    line.append(str(a.verdict).ljust(vwidth), style=_VERDICT_STYLE.get(a.verdict, "yellow"))
    line.append(f"  {a.reason}")
    if a.policies and not any(p in a.reason for p in a.policies):
        line.append(f" (policies: {', '.join(a.policies)})", style="dim")
    return line


def _outcome(o: ExplainedOutcome) -> Text:
    ok = o.status == "succeeded"
    line = Text("   outcome: ")
    line.append(f"{o.capability} {o.status}", style="green" if ok else "red")
    if o.error:
        line.append(f" ({o.error_kind + ': ' if o.error_kind else ''}{o.error})")
    line.append(f" in {format_duration(round(o.latency_s, 3))}, cost {o.cost:g}")
    line.append(" - prediction ")
    line.append("hit" if o.hit else "missed", style="green" if o.hit else "red")
    return line


def _health_lines(health: dict[str, CapabilityHealth]) -> list[str]:
    lines = []
    for name, h in sorted(health.items()):
        bits = []
        if h.circuit != Circuit.CLOSED:
            bits.append(f"circuit {h.circuit}")
        if h.probe_up is False:
            bits.append("probe says down")
        if h.consecutive_failures:
            bits.append(f"{h.consecutive_failures} failures in a row")
        if h.success_rate is not None and (bits or h.success_rate < 0.9):
            bits.append(f"success {h.success_rate:.2f}")
        if bits:
            lines.append(f"{name} {', '.join(bits)}")
    return lines


def _remaining(d: ExplainedDecision) -> str:
    r = d.remaining
    bits = []
    if r.budget is not None:
        bits.append(f"budget {r.budget:g}")
    if r.deadline_s is not None:
        bits.append(f"deadline {format_duration(round(max(r.deadline_s, 0.0), 3))}")
    if r.steps is not None:
        bits.append(f"steps {r.steps}")
    if r.spent:
        bits.append(f"spent {r.spent:g}")
    return ", ".join(bits)


def render_why_not(answer: WhyNot) -> RenderableType:
    """Return the decision-by-decision answer of `ido why-not` as text."""
    head = Text()
    head.append(f"why not {answer.capability}", style="bold")
    if answer.provides:
        head.append(f" (role {answer.provides})")
    head.append(f" in run {answer.run_id}: ")
    head.append(answer.summary, style="bold")
    parts: list[RenderableType] = [head]
    groups: list[tuple[list[int | None], str, str]] = []  # consecutive decisions with one answer
    for r in answer.reasons:
        # what became of a chosen capability comes first: planned, waiting, in flight, failed ...
        reason = f"{r.what} - {r.reason}" if r.what else r.reason
        if groups and groups[-1][1:] == (r.verdict, reason):
            groups[-1][0].append(r.seq)
        else:
            groups.append(([r.seq], r.verdict, reason))
    vwidth = max((len(v) for _, v, _ in groups), default=0)
    labels = [
        ("#" + ", #".join(str(s) for s in seqs if s is not None)) if any(s is not None for s in seqs)
        else "run"
        for seqs, _, _ in groups
    ]
    swidth = max((len(label) for label in labels), default=0)
    for label, (_, verdict, reason) in zip(labels, groups, strict=True):
        line = Text("  ")
        line.append(label.ljust(swidth), style="bold")
        line.append("  ")
        line.append(verdict.ljust(vwidth), style=_VERDICT_STYLE.get(verdict, "yellow"))
        line.append(f"  {reason}")
        parts.append(line)
    return Group(*parts)


def _value(v: object) -> str:
    if v is None:
        return "nothing"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _when(epoch: float) -> str:
    if not epoch:
        return "-"
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


__all__ = ["render_explanation", "render_why_not", "to_text"]
