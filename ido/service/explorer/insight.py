"""Capability health over time, the simulation comparison, and two runs side by side."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
