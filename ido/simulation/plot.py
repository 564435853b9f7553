"""`ido simulate --plot FILE`: a PNG of success rate and latency over time per strategy.

Two panels share the time axis (arrival time of runs, simulated seconds):
success rate per time bucket, and median latency per bucket, one line per
strategy, with every fault's window shaded and labelled. Uses matplotlib's
Agg backend (no display needed). Called by `ido.cli.simulate`.
"""

from __future__ import annotations

from pathlib import Path

from ido.errors import UsageError
from ido.simulation.report import Report

_COLOURS = {"adaptive": "#1b9e77", "static": "#d95f02", "static-fallback": "#7570b3"}
_SHADES = ("#e41a1c", "#377eb8", "#ff7f00", "#984ea3", "#a65628", "#f781bf")


def write_plot(report: Report, path: Path | str) -> Path:
    """Return the path of the PNG written for `report`; raises UsageError if it cannot be written."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    target = Path(path)
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6.5), dpi=110)
    try:
        horizon = max(report.horizon_s, *(p.t for s in report.series.values() for p in s), 1.0)
        for i, window in enumerate(report.faults):
            end = horizon if window.end is None else window.end
            colour = _SHADES[i % len(_SHADES)]
            for axis in (top, bottom):
                axis.axvspan(window.start, end, color=colour, alpha=0.12, lw=0)
            top.text(
                window.start, 1.02 + 0.06 * (i % 3), f"{window.kind}: {window.target}",
                transform=top.get_xaxis_transform(), fontsize=7, color=colour, va="bottom",
            )
        for name, points in report.series.items():
            colour = _COLOURS.get(name, "#666666")
            xs = [p.t for p in points if p.runs]
            top.plot(xs, [p.success_rate * 100 for p in points if p.runs], label=name, color=colour,
                     marker=".", lw=1.4)
            bottom.plot(xs, [p.latency_p50_s for p in points if p.runs], label=name, color=colour,
                        marker=".", lw=1.4)
        top.set_ylabel("success rate (%)")
        top.set_ylim(-2, 102)
        top.legend(loc="lower left", fontsize=8)
        bottom.set_ylabel("latency p50 (s)")
        bottom.set_xlabel("arrival time (simulated seconds)")
        fig.suptitle(f"{report.scenario}: {report.runs} runs per strategy, seed {report.seed}", y=0.995)
        fig.tight_layout()
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fig.savefig(target, format="png")
        except OSError as exc:
            raise UsageError(f"cannot write the plot to {target}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)
    return target
