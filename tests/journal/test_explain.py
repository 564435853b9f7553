"""explain and why-not over a real SQLite journal holding real decision records."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from journal_helpers import event, run_info
from synthetic import CAPS_DIGEST, RUN_ID, write_outage_run

from ido.decisions import Trigger
from ido.errors import JournalCorrupted, UsageError
from ido.explain import explain, why_not
from ido.explain_text import render_explanation, render_why_not, to_text
from ido.journal.sqlite import SQLiteStore


@pytest.fixture
async def journal(db_path: Path) -> AsyncIterator[SQLiteStore]:
    """A SQLite journal holding the synthetic outage run."""
    store = SQLiteStore(db_path)
    await write_outage_run(store)
    yield store
    store.close()


async def test_explain_builds_the_timeline(journal: SQLiteStore) -> None:
    """Each decision comes back with trigger, chosen, alternatives and its outcomes attached."""
    e = explain(journal, RUN_ID[:4])
    assert (e.run_id, e.intent, e.status) == (RUN_ID, "order-fulfilled", "succeeded")
    assert [d.seq for d in e.decisions] == [1, 2, 3, 4]
    assert [d.trigger for d in e.decisions] == [Trigger.START, Trigger.STEP_FAILED,
                                                 Trigger.STEP_SUCCEEDED, Trigger.STEP_SUCCEEDED]
    first, second = e.decisions[0], e.decisions[1]
    assert first.chosen == ["payment.stripe-eu"]
    assert [(a.capability, a.verdict) for a in first.alternatives] == [
        ("payment.stripe-eu", "chosen"), ("payment.adyen", "costlier"), ("payment.paypal-us", "denied"),
    ]
    assert [(o.capability, o.status, o.hit) for o in first.outcomes] == [("payment.stripe-eu", "failed", False)]
    assert [(o.capability, o.hit) for o in second.outcomes] == [("payment.adyen", True)]
    assert second.health["payment.stripe-eu"].circuit == "open"
    assert e.decisions[3].outcomes == []
    assert [(f.fault, f.capability) for f in e.faults] == [("down", "payment.stripe-eu")]
    assert any("status succeeded" in n for n in e.notes)


async def test_explain_json_has_the_design_keys(journal: SQLiteStore) -> None:
    """The JSON form carries run_id, intent, status and decisions with seq, chosen, alternatives."""
    data = explain(journal, RUN_ID).model_dump(mode="json")
    assert {"run_id", "intent", "status", "decisions"} <= set(data)
    for d in data["decisions"]:
        assert {"seq", "chosen", "alternatives"} <= set(d)
        for a in d["alternatives"]:
            assert {"capability", "verdict", "reason"} <= set(a)


async def test_explain_text_tells_the_story(journal: SQLiteStore) -> None:
    """The text timeline names the failure, the switch, the rejected alternatives and hit/miss."""
    text = to_text(render_explanation(explain(journal, RUN_ID)))
    assert "#2 step failed -> dispatch" in text
    assert "circuit open after 3 failures" in text
    assert "denied by gdpr-data-stays-in-eu" in text
    assert "payment.stripe-eu failed (server: HTTP 503)" in text
    assert "prediction missed" in text and "prediction hit" in text
    assert "payment.stripe-eu circuit open" in text
    assert "> payment.adyen" in text  # dispatched by decision 2
    assert "not needed now (1): payment.stripe-eu" in text


async def test_why_not_reports_each_decision(journal: SQLiteStore) -> None:
    """A capability among the alternatives gets its verdict and reason at every decision."""
    w = why_not(journal, RUN_ID, "payment.stripe-eu")
    assert [(r.seq, r.verdict) for r in w.reasons] == [(1, "chosen"), (2, "unhealthy"), (3, "not_needed")]
    assert "circuit open" in w.reasons[1].reason
    assert w.provides == "payment"
    assert w.summary == "dispatched and failed at decision 1; not chosen at decisions 2, 3 (not_needed, unhealthy)"
    assert w.reasons[0].status == "failed" and "sent and failed (server: HTTP 503)" in w.reasons[0].what
    denied = why_not(journal, RUN_ID, "payment.paypal-us")
    assert {r.verdict for r in denied.reasons} == {"denied"}
    assert "gdpr-data-stays-in-eu" in denied.reasons[0].reason


async def test_why_not_never_a_candidate(journal: SQLiteStore) -> None:
    """A capability whose role was needed but never listed is reported as never a candidate."""
    w = why_not(journal, RUN_ID, "payment.crypto")
    assert w.summary.startswith("never a candidate: its preconditions never held")
    assert "wallet.linked" in w.summary
    assert {r.verdict for r in w.reasons} == {"precondition"}
    assert [r.seq for r in w.reasons] == [1, 2, 3]


async def test_why_not_role_never_needed(journal: SQLiteStore) -> None:
    """A capability whose role no decision needed says so."""
    w = why_not(journal, RUN_ID, "giftwrap.deluxe")
    assert w.summary == "its role giftwrap was never needed"
    assert {r.verdict for r in w.reasons} == {"not_needed"}
    assert "never needed" in to_text(render_why_not(w))


async def test_why_not_unknown_capability_suggests(journal: SQLiteStore) -> None:
    """An unknown capability name is a usage error with a did-you-mean."""
    with pytest.raises(UsageError, match=r"did you mean payment\.adyen"):
        why_not(journal, RUN_ID, "payment.adyn")
    with pytest.raises(UsageError, match="not a capability of run"):
        why_not(journal, RUN_ID, "zzz")


async def test_unknown_run_is_a_usage_error(journal: SQLiteStore) -> None:
    """explain of an unknown run id raises UsageError listing known runs."""
    with pytest.raises(UsageError, match=RUN_ID):
        explain(journal, "nope")


async def test_capabilities_revision_is_read_from_the_journal(journal: SQLiteStore) -> None:
    """why-not reads declarations from the run's capabilities revision stored in the journal."""
    content = journal.get_revision(digest=CAPS_DIGEST)
    assert {c["name"] for c in content} >= {"payment.crypto", "giftwrap.deluxe"}


async def test_bad_decision_record_is_corruption(db_path: Path) -> None:
    """A decision event that is not a decision record raises JournalCorrupted naming it."""
    store = SQLiteStore(db_path)
    await store.append([event("r1", 1, "decision", nonsense=True)], run=run_info("r1"))
    with pytest.raises(JournalCorrupted, match="decision event 1 of run r1"):
        explain(store, "r1")
    store.close()


async def test_run_without_decisions_explains_empty(db_path: Path) -> None:
    """A run that has not decided anything yet explains as an empty timeline."""
    store = SQLiteStore(db_path)
    await store.append([event("r1", 1, "run_started")], run=run_info("r1"))
    e = explain(store, "r1")
    assert e.decisions == []
    assert "no decisions recorded yet" in to_text(render_explanation(e))
    store.close()
