"""How much ido reads of a file: at most `max_file_bytes()` bytes, so no input can exhaust memory.

Every file a user hands to ido (declaration files, plan files) is read through
`read_bounded`, which stops one byte past the limit, whatever the file is
(`/dev/zero` included). The limit is 16 MiB, about 30,000 capabilities in one
file; `IDO_MAX_FILE_BYTES` raises or lowers it. Called by `ido.loading.yamlfile`
and `ido.engine.saved_plan`.
"""

from __future__ import annotations

import os
from pathlib import Path

from ido.errors import UsageError

#: The environment variable that sets the largest file ido reads, in bytes.
MAX_FILE_BYTES_ENV = "IDO_MAX_FILE_BYTES"
#: The limit when the variable is not set: far above any hand-written declaration file.
DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024


class FileTooLarge(UsageError):
    """A file is larger than ido reads; the message names the limit and how to raise it."""


def max_file_bytes() -> int:
    """Return the largest file ido reads: `IDO_MAX_FILE_BYTES`, else 16 MiB.

    Raises UsageError when the variable is not a positive whole number.
    """
    raw = os.environ.get(MAX_FILE_BYTES_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_FILE_BYTES
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0 or len(raw) > 20:
        raise UsageError(
            f"{MAX_FILE_BYTES_ENV}={raw!r} is not a size; give a positive number of bytes, "
            f"such as {MAX_FILE_BYTES_ENV}={2 * DEFAULT_MAX_FILE_BYTES}"
        )
    return value


def too_large_message(limit: int) -> str:
    """Return the sentence that refuses a file over `limit` bytes and says how to raise the limit."""
    return (
        f"the file is larger than {_size(limit)}, the most ido reads from one file; if it is meant "
        f"to be this large, raise the limit, e.g. {MAX_FILE_BYTES_ENV}={2 * limit}"
    )


def read_bounded(path: Path) -> bytes:
    """Return the bytes of the file at `path`, reading at most `max_file_bytes()` + 1 of them.

    Raises FileTooLarge when there are more (a device like /dev/zero too),
    OSError when the file cannot be read.
    """
    limit = max_file_bytes()
    with path.open("rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(too_large_message(limit))
    return data


def _size(count: int) -> str:
    if count >= 1024 * 1024 and count % (1024 * 1024) == 0:
        return f"{count // (1024 * 1024)} MiB ({count:,} bytes)"
    return f"{count:,} bytes"
