"""Shared test configuration: hypothesis profiles.

Engineers put area fixtures in ``tests/<area>/conftest.py``; this file only holds
what every test needs. ``HYPOTHESIS_PROFILE`` picks the profile ("default" keeps
runs short on the shared 2-core machine; "ci" is a little wider).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
