"""Helpers of the service tests: the demo workspace copied, test tokens, a Service over a journal."""

from __future__ import annotations

import shutil
from pathlib import Path

from ido.loading import load_workspace
from ido.service.auth import Guard, Scope
from ido.service.state import Service

ROOT = Path(__file__).resolve().parents[2]
TOKENS = {"read": "r-token-0123456789abcdef", "operate": "o-token-0123456789abcdef",
          "admin": "a-token-0123456789abcdef"}


def copy_workspace(target: Path) -> Path:
    """Copy the repository's demo workspace (intents, capabilities, policies) into `target`."""
    for folder in ("intents", "capabilities", "policies"):
        shutil.copytree(ROOT / folder, target / folder)
    return target


def bearer(scope: str) -> dict[str, str]:
    """Return the Authorization header of the test token with `scope`."""
    return {"Authorization": f"Bearer {TOKENS[scope]}"}


def make_service(root: Path, url: str, tokens: dict[str, Scope] | None) -> Service:
    """Return a Service over `root` and `url` with `tokens` (None: loopback mode)."""
    return Service(workspace=load_workspace(root), workspace_root=root, store_url=url,
                   guard=Guard.for_tokens(tokens))
