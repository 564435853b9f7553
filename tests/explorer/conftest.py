"""Fixtures of the explorer's browser tests: a real `ido serve` on 127.0.0.1 over a journal the
tests fill, and Debian's Chromium driven by Playwright.

`served` starts `ido serve --workers 1` (loopback mode, so the browser signs in
with the one-time login URL it prints) over a copy of the demo workspace whose
journal holds the README's demo run (`ido run order-fulfilled --simulate
payments-outage`) and a plain run. `page` is a fresh browser context signed in
with that login's cookie; it fails the test on any request to a host other than
127.0.0.1 (such requests are aborted, not sent) and on any console error or
uncaught page error. Without /usr/bin/chromium the tests skip with the apt
command, unless IDO_REQUIRE_BROWSER=1 (CI), where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse

import pytest
from browser_helpers import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Served,
    browser_or_skip,
    copy_demo,
    start_serve,
    stop,
    watch,
)

from ido.cli.main import main
from ido.journal import open_store


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`ido serve --workers 1` over a journal holding the payments-outage demo run and a plain run."""
    browser_or_skip()
    tmp = tmp_path_factory.mktemp("explorer")
    root = copy_demo(tmp / "ws")
    store = f"sqlite:///{tmp / 'journal.db'}"
    base_args = ["--workspace", str(root), "--store", store, "run", "order-fulfilled", "--json"]
    assert main([*base_args, "--simulate", "payments-outage"]) == 0
    assert main([*base_args, "--input", "order_id=ord-plain"]) == 0
    journal = open_store(store)
    try:
        newest_first = [r.run_id for r in journal.list_runs()]
    finally:
        journal.close()
    proc, base, login = start_serve(root, store, tmp / "serve.log", "--workers", "1")
    try:
        yield Served(root=root, store=store, base=base, log=tmp / "serve.log", login_url=login,
                     outage_run=newest_first[1], plain_run=newest_first[0])
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[Any]:
    """Debian's Chromium, headless, with a fresh profile; the served explorer's login cookie is taken once."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context()
            page = context.new_page()
            page.goto(served.login_url)
            assert urlparse(page.url).path == "/", page.url  # the login sends the browser to the runs list
            served.cookies = context.cookies()
            context.close()
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, served: Served) -> Iterator[Any]:
    """A fresh signed-in page; the test fails on an off-loopback request or an unexpected console error."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies(served.cookies)
    context.set_default_timeout(30_000)
    tab = context.new_page()
    tab.watched = watch(tab)
    try:
        yield tab
        tab.watched.check()
    finally:
        context.close()

