"""`ido serve [--host 127.0.0.1] [--port 8420] [--token-file F] [--workers N]`: the HTTP API on uvicorn.

Serves `ido.service` (DESIGN.md section 6) over the workspace and journal the
global `--workspace` / `--store` name. Runs submitted over HTTP are queued in
the journal and driven by `ido worker` processes beside it, or, with
`--workers N`, by N `ido worker` processes this command starts and stops
(the one-machine setup: one command). Without `--token-file` only loopback clients
are served and a one-time login URL for browsers is printed; a non-loopback
`--host` without tokens is refused (exit 2). FastAPI and uvicorn (the `serve`
extra) are imported only here, when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ido.cli.main import CliContext
from ido.errors import UsageError


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8420, show_default=True, help="Port to listen on.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Bearer tokens, one per line: TOKEN [read|operate|admin] (bare = admin).")
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default=True,
              help="`ido worker` processes this service starts and stops (0: run them beside it).")
@click.option("--reseed", is_flag=True,
              help="Push the workspace folder's declarations into the store's registry as a new revision.")
@click.pass_obj
def serve(ctx: CliContext, host: str, port: int, token_file: Path | None, workers: int, reseed: bool) -> int:
    """Serve the HTTP API (/api/v1, docs at /api/v1/docs) over this workspace's journal.

    The store's registry is the source of truth for declarations: the first start
    seeds it from the workspace folder; later starts keep it and say when the
    folder differs (--reseed pushes the folder; `ido export DIR` pulls the registry).
    """
    from ido.service.auth import is_loopback, read_token_file

    tokens = read_token_file(token_file) if token_file is not None else None
    if not tokens and not is_loopback(host):
        raise UsageError(
            f"--host {host} is not the loopback interface: other machines could drive the API "
            "unauthenticated; pass --token-file with a token per line, or keep --host 127.0.0.1"
        )
    try:
        import uvicorn

        from ido.service.app import create_app
        from ido.service.auth import Guard
        from ido.service.state import Service
    except ImportError as exc:
        raise UsageError(f"`ido serve` needs the serve extra: pip install 'ido[serve]' ({exc})") from None
    workspace = _seed(ctx, reseed)
    guard = Guard.for_tokens(tokens)
    service = Service(workspace=workspace, workspace_root=ctx.workspace.resolve(),
                      store_url=ctx.store_location, guard=guard)
    app = create_app(service)
    pool = _WorkerProcesses(ctx, workers) if workers else None
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"ido serve: http://{shown}:{port}/api/v1 (docs at /api/v1/docs) on {_safe(ctx.store_location)}"
               + (f", {workers} worker process(es)" if workers else "; run `ido worker` beside it"),
               err=True)
    if guard.login_secret is not None:
        # printed once, for the person who started the service; it works once
        click.echo(f"open http://{shown}:{port}/login?secret={guard.login_secret} in a browser "
                   "(one-time link; loopback clients without a browser need no login)", err=True)
    try:
        # access_log off: request lines would carry the one-time login secret
        uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")
    finally:
        if pool is not None:
            pool.stop()
    return 0


def _seed(ctx: CliContext, reseed: bool) -> Any:
    """Seed (or reseed) the store's registry from the folder, say what happened; return the folder's workspace.

    A folder with problems is fatal only when the store holds no registry to serve
    (or --reseed asks to push it); otherwise the store's registry is served and the
    problems are reported.
    """
    from ido.cli.run import open_journal
    from ido.errors import ValidationError
    from ido.loading import load_workspace
    from ido.registry import seed
    from ido.workspace import Workspace

    with open_journal(ctx) as store:
        seeded = store.registry_head() is not None
        try:
            workspace = load_workspace(ctx.workspace)
        except ValidationError as exc:
            if reseed or not seeded:
                raise
            click.echo(f"{ctx.workspace} has {len(exc.problems)} problem(s) (see `ido validate`); serving "
                       "the store's registry", err=True)
            return Workspace(ctx.workspace)
        report = seed(store, workspace, reseed=reseed)
    click.echo(f"ido serve: {report.message(ctx.workspace)}", err=True)
    return workspace


def _safe(url: str) -> str:
    from ido.journal.postgres import redact_url

    return redact_url(url) if "://" in url and not url.startswith("sqlite") else url


class _WorkerProcesses:
    """The `ido worker` processes of `ido serve --workers N`: started with the service, stopped with it.

    Processes rather than threads of the service: a worker's engine is Python
    code that would hold the GIL against the HTTP loop (benchmarks/serve.py:
    two workers driving runs in the service's process put the p99 of reads
    at 160 ms where it was 18 ms); as processes they have their own
    interpreter, and the OS shares the cores. The journal's URL reaches them
    in the environment, never on a command line others can list. Each child
    also ends when its stdin pipe from this process closes, so a service
    killed outright leaves no worker behind.
    """

    def __init__(self, ctx: CliContext, count: int) -> None:
        import os
        import subprocess
        import sys

        env = {**os.environ, "IDO_WORKSPACE": str(ctx.workspace.resolve()), "IDO_STORE": ctx.store_location}
        self._children = [
            subprocess.Popen([sys.executable, "-c", _CHILD, "worker"], env=env, stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL)  # stderr: the service's, for banners and lost runs
            for _ in range(count)
        ]

    def stop(self) -> None:
        """Stop the workers (SIGTERM: their runs are released for other workers) and wait for them."""
        import signal
        import subprocess

        for child in self._children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in self._children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
            if child.stdin is not None:
                child.stdin.close()


#: How much lower the workers' CPU priority is than the service's (Unix nice): a modest step, so
#: a worker still renews its leases on a busy machine (CFS weight 335 against 1024).
WORKER_NICE = 5

#: The program of a worker child: `ido worker`, ending with its parent (see `worker_child`).
_CHILD = "import sys; from ido.cli.serve import worker_child; sys.exit(worker_child(sys.argv[1:]))"


def worker_child(argv: list[str]) -> int:
    """Run the `ido` command `argv` in a worker child of `ido serve`; return its exit code.

    A watcher thread sends this process SIGTERM (the worker's own clean stop)
    when stdin reaches its end: the service closed the pipe, or died. The
    worker runs at a lower CPU priority (`WORKER_NICE`): when the cores are
    short, the service's HTTP loop answers first and the runs wait a little.
    """
    import os
    import signal
    import sys
    import threading

    from ido.cli.main import main

    def end_with_parent() -> None:
        sys.stdin.buffer.read()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=end_with_parent, name="ido-serve-parent", daemon=True).start()
    if hasattr(os, "nice"):
        os.nice(WORKER_NICE)
    return main(argv)


COMMANDS = [serve]
