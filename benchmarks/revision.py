"""An earlier revision of ido's source, unpacked in a temporary folder, for before/after rows.

    with source_tree("HEAD~3") as tree:
        subprocess.run([sys.executable, "-c", code], env=tree_env(tree))

Only the `ido` package is unpacked (`git archive REV ido`); with the tree first on
PYTHONPATH a child process imports that ido instead of the installed one, with the
same virtualenv's libraries. Used by benchmarks/startup.py and benchmarks/loading.py.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commit_of(rev: str) -> str:
    """Return the short commit id of `rev` in this repository."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


@contextmanager
def source_tree(rev: str) -> Iterator[Path]:
    """Yield a temporary folder holding the `ido` package as it was at `rev`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "ido"], capture_output=True, check=True).stdout
    with tempfile.TemporaryDirectory(prefix="ido-rev-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        yield Path(tmp)


def tree_env(tree: Path | None) -> dict[str, str]:
    """Return the environment for a child that imports ido from `tree` (None: the installed ido)."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    return env
