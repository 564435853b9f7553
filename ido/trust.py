"""Who may run code: the module prefixes a workspace's python doors may import.

Workspace files are code: `invoke: {python: "pkg.mod:fn"}`, `probe: {python:
...}` and python observers import and call whatever they name, with the
rights of the process running ido. Whoever runs `ido run` on a workspace
trusts its authors as they would trust a script. To narrow that, the
operator (never the workspace itself, which is what is being restricted)
sets `IDO_PYTHON_ALLOW` to a comma-separated list of module prefixes:
`IDO_PYTHON_ALLOW=shop.doors,ido.testing` admits `shop.doors.pay:charge` and
refuses `os:system`. Unset, every module is allowed; set but empty, none is.

Read by `ido.workspace.Workspace` (which refuses to import a target outside
the list at run time) and by `ido.loading.checks` (which reports every such
target at load, so `ido validate` and every command refuse the workspace first).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

#: The environment variable naming the allowed module prefixes.
ENV = "IDO_PYTHON_ALLOW"


@dataclass(frozen=True)
class PythonAllow:
    """The module prefixes python targets may come from; `prefixes=None` allows every module."""

    prefixes: tuple[str, ...] | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PythonAllow:
        """Return the allow-list `IDO_PYTHON_ALLOW` sets (every module when it is unset)."""
        env = os.environ if environ is None else environ
        text = env.get(ENV)
        if text is None:
            return cls(None)
        return cls(tuple(p.strip() for p in text.split(",") if p.strip()))

    def allows(self, target: str) -> bool:
        """Return whether `module:function` comes from an allowed module (`a.b` allows `a.b.c`)."""
        if self.prefixes is None:
            return True
        module = target.partition(":")[0].strip()
        return any(module == p or module.startswith(p + ".") for p in self.prefixes)

    def refusal(self, target: str) -> str:
        """Return why `target` is refused and how to allow it (for a Problem or an error)."""
        allowed = ", ".join(self.prefixes or ()) or "none"
        module = target.partition(":")[0]
        return (
            f"python target {target!r} is outside the modules {ENV} allows ({allowed}); "
            f"add {module!r} (or a prefix of it) to {ENV} if this workspace may run it"
        )


__all__ = ["ENV", "PythonAllow"]
