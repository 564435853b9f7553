"""ido's one exception hierarchy.

    IdoError                      anything ido reports to a person (CLI exit 2 unless noted)
    ├── ValidationError           declarations that are wrong; carries every Problem found
    ├── ReferenceError_           a name that resolves to nothing (capability, policy, callable)
    ├── UsageError                a command used wrongly (bad --set, unknown run id, ...)
    ├── NoAdmissiblePlan          no plan satisfies goal, constraints and policies (exit 3)
    ├── StalePlan                 a saved plan whose inputs changed since it was made
    ├── JournalError              the journal cannot be read or written
    │   ├── LeaseLost             a fenced write refused: another owner claimed the run
    │   └── JournalCorrupted      a journal file or row that does not decode
    ├── RegistryConflict          a registry change whose expected revision is no longer the head
    ├── ReplayMismatch            replay re-derived a decision that differs from the record
    └── ExecutionError            a capability invocation failed (classified by `kind`)

Messages say what failed, why, and what would be right. Context stays on
attributes (`run_id`, `capability`, `problems`) so callers never parse text.
The CLI turns every IdoError into its message and exit code, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in a declaration, located in its file when it came from one.

    `str(problem)` is `path:line:column: field.path: message`, the form editors
    and CI logs turn into clickable locations.
    """

    message: str
    path: str | None = None
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        field = f"{self.field}: " if self.field else ""
        return f"{where}{field}{self.message}"


class IdoError(Exception):
    """Base of every error ido reports to a person; `exit_code` is what the CLI returns."""

    exit_code: int = 2


class ValidationError(IdoError):
    """Declarations that are wrong. `problems` holds every one found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__(head + ":\n" + "\n".join(str(p) for p in self.problems))


class ReferenceError_(IdoError):
    """A name (capability, policy, intent, scenario, python callable) that resolves to nothing."""


class UsageError(IdoError):
    """A command or API used wrongly: a malformed `--set`, an unknown run id, ..."""


class RunEnded(UsageError):
    """The run already ended, so it cannot be asked to do more (`ido cancel` of a finished run): exit 2, HTTP 409."""


class NoAdmissiblePlan(IdoError):
    """No plan satisfies the goal, the constraints and the policies; `explanation` says why."""

    exit_code = 3

    def __init__(self, message: str, *, intent: str | None = None) -> None:
        self.intent = intent
        super().__init__(message)


class StalePlan(IdoError):
    """A saved plan whose inputs (state, health, capabilities, policies) changed since."""


class JournalError(IdoError):
    """The journal cannot be opened, read or written."""


class LeaseLost(JournalError):
    """A fenced write refused: another owner claimed the run (or its lease is gone).

    The process that gets it must stop driving the run; nothing of the write landed.
    """

    def __init__(self, message: str, *, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(message)


class JournalCorrupted(JournalError):
    """A journal file or row that does not decode; other runs stay readable."""

    def __init__(self, message: str, *, run_id: str | None = None) -> None:
        self.run_id = run_id
        super().__init__(message)


class RegistryConflict(IdoError):
    """A registry change refused: the registry moved past the revision the change expected.

    `current` is the head's revision number now (0: the store holds no registry), so an
    HTTP client gets it with its 409 and a caller can read again and retry.
    """

    def __init__(self, message: str, *, current: int) -> None:
        self.current = current
        super().__init__(message)


class ReplayMismatch(IdoError):
    """Replay re-derived a decision that differs from the recorded one."""

    exit_code = 1

    def __init__(self, message: str, *, run_id: str, seq: int) -> None:
        self.run_id = run_id
        self.seq = seq
        super().__init__(message)


FailureKind = Literal["client", "server", "timeout", "connection", "unreachable", "crash", "rejected"]


class ExecutionError(IdoError):
    """A capability invocation that failed.

    `kind` classifies it for health and retry decisions: `client` (4xx, the
    request itself is wrong: retrying the same call will not help), `server`
    (5xx), `timeout`, `connection` (lost once the request may have been sent: reset,
    closed mid-answer), `unreachable` (never sent: connection refused, DNS, TLS or
    connect timeout; the call cannot have acted), `crash` (the Python
    callable raised), `rejected` (the executor refused before sending).
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        kind: FailureKind,
        capability: str | None = None,
        status: int | None = None,
    ) -> None:
        self.kind = kind
        self.capability = capability
        self.status = status
        super().__init__(message)
