"""How far a plan call's run-dependent bounds could move and the call still answer the same.

A run's remaining budget (`budget - spent`, or a `cost_per_run` limit's) and
remaining time (`deadline - elapsed_s`) reach a plan call only as the caps
`Bounds.cost` and `Bounds.makespan`, and a call reads a cap only by asking
whether some figure breaks it (`figure > cap + EPS`) — but for the verdicts and
blockers that print a cap, a spend or an elapsed time, which mark the call
`exact`. Everything else a call does is a deterministic function of the other
inputs, so another run whose caps answer every one of those questions the same
way gets the very same plan, alternatives and reasons.

`Slack` records the questions as they are asked: per cap, the largest figure
that fitted and the smallest that broke. `figure > cap + EPS` is monotone in
`figure` (and in `cap`), so those two figures stand for all the questions:
`Slack.admits` answers whether new caps would give every recorded question the
recorded answer. One `Slack` per call (`Call.slack`, made by
`Planner.prepare`), filled by `ido.planning.search.bounded_astar` and
`ido.planning.reasons`, read by the planner's memo (`Planner.plan`), which is
how runs in step under a deadline share one search.
"""

from __future__ import annotations

from dataclasses import dataclass

from ido.planning.search import EPS, INF

#: The caps that vary from run to run (`Bounds` field names). Risk comes from the intent's
#: min_success alone, and steps and uses are integers the memo keys exactly.
VARYING = ("cost", "makespan")


@dataclass(slots=True)
class Slack:
    """The questions one plan call asked of its varying caps, as two figures per cap.

    `*_fit`: the largest figure found within the cap (-INF: none asked);
    `*_broke`: the smallest found over it (INF: none). `exact`: the call's
    answer shows a cap, spend or elapsed time itself (or comes from a search
    bounded by a varying cap, whose questions are not recorded), so only a run
    with equal figures may share it.
    """

    cost_fit: float = -INF
    cost_broke: float = INF
    makespan_fit: float = -INF
    makespan_broke: float = INF
    exact: bool = False

    def breaks(self, name: str, figure: float, cap: float) -> bool:
        """Return whether `figure` breaks the cap `name` (`figure > cap + EPS`), recording the answer.

        Called wherever a plan call compares a figure with `Bounds.cost` or `Bounds.makespan`."""
        broke = figure > cap + EPS
        if name == "cost":
            if broke:
                if figure < self.cost_broke:
                    self.cost_broke = figure
            elif figure > self.cost_fit:
                self.cost_fit = figure
        elif broke:
            if figure < self.makespan_broke:
                self.makespan_broke = figure
        elif figure > self.makespan_fit:
            self.makespan_fit = figure
        return broke

    def admits(self, cost: float | None, makespan: float | None) -> bool:
        """Return whether caps `cost` and `makespan` answer every recorded question as it was answered.

        A None cap was never asked about (whether a cap exists does not vary between the
        runs a memo entry serves). Ignores `exact`: the caller compares the figures then."""
        if cost is not None and (self.cost_fit > cost + EPS or not self.cost_broke > cost + EPS):
            return False
        return makespan is None or not (
            self.makespan_fit > makespan + EPS or not self.makespan_broke > makespan + EPS
        )


def breaks(slack: Slack | None, name: str, figure: float, cap: float) -> bool:
    """Return `figure > cap + EPS`, recorded in `slack` when there is one (`Slack.breaks`)."""
    if slack is None:
        return figure > cap + EPS
    return slack.breaks(name, figure, cap)
