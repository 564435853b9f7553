"""`ido.clock`: the engine's time, and record dates formatted as `datetime` would."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ido.clock import Clock, iso_utc

#: Epoch seconds from 1900 to 2100, and fractions that sit on rounding edges.
SECONDS = st.integers(-2_208_988_800, 4_102_444_800)
EDGES = st.sampled_from([0.0, 0.5, 0.0005, 0.0004995, 0.9995, 0.9994995, 0.9999995, 0.9999994999, 0.0000005, 1e-9])


def reference(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="milliseconds")


@given(st.lists(st.one_of(
    st.floats(-2_208_988_800, 4_102_444_800, allow_nan=False),
    st.builds(lambda s, f: s + f, SECONDS, EDGES),
    st.builds(lambda s, f: math.nextafter(s + f, math.inf), SECONDS, EDGES),
    st.builds(lambda s, f: math.nextafter(s + f, -math.inf), SECONDS, EDGES),
), min_size=1, max_size=20))
@example([1767225600.9999995, 1767225600.9999995, 1767225601.0004, -0.0000005, -1.5])
def test_iso_is_datetimes_text(times: list[float]) -> None:
    """Every time, in any order (the second remembered between calls), formats exactly as
    `datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")`, rounding edges included."""
    assert [iso_utc(ts) for ts in times] == [reference(ts) for ts in times]


def test_iso_of_what_datetime_refuses_raises_as_datetime_does() -> None:
    """A time `datetime` cannot represent raises its error rather than a made-up date."""
    for bad in (math.nan, math.inf):
        with pytest.raises((ValueError, OverflowError)):
            iso_utc(bad)


def test_clock_dates_from_its_epoch() -> None:
    """A clock anchored at an epoch dates its first reading at that epoch, formatted as datetime does."""
    assert Clock(epoch=1767225600.25).iso() == "2026-01-01T00:00:00.250+00:00"
