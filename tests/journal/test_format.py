"""The journal's format: older journals are migrated and read as written, newer ones refused,
packed rows give back exactly what was appended, and one damaged row hides no other run."""

from __future__ import annotations

import asyncio
import gzip
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from journal_helpers import event_key, run_info

from ido.cli.main import main
from ido.decisions import Trigger
from ido.errors import JournalCorrupted, JournalError
from ido.journal import codec
from ido.journal.base import Event, RunInfo
from ido.journal.codec import KIND_CODES, ZDICT_1, Packer, blob_key, ref_digest, unpack
from ido.journal.sqlite import FORMAT_VERSION, SQLiteStore

DATA = Path(__file__).parent / "data"


def _fixture(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    db = tmp_path / "journal.db"
    db.write_bytes(gzip.decompress((DATA / "journal_v1.db.gz").read_bytes()))
    expected = json.loads(gzip.decompress((DATA / "journal_v1.expected.json.gz").read_bytes()))
    return db, expected


def test_format_1_journal_is_migrated_and_reads_as_format_1_code_read_it(tmp_path: Path) -> None:
    """A journal written by format-1 code gives back every run, event and revision it held."""
    db, expected = _fixture(tmp_path)
    store = SQLiteStore(db)
    assert store.opened_format == 1
    assert [r.model_dump(mode="json") for r in store.list_runs()] == expected["runs"]
    for run_id, events in expected["events"].items():
        assert [e.model_dump(mode="json") for e in store.events(run_id=run_id)] == events
        decisions = store.events(run_id=run_id, kinds=["decision"])
        assert [e.seq for e in decisions] == [e["seq"] for e in events if e["kind"] == "decision"]
    for digest, revision in expected["revisions"].items():
        assert store.get_revision(digest=digest) == revision["content"]
    store.close()
    with sqlite3.connect(db) as conn:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    conn.close()
    assert meta["format_version"] == str(FORMAT_VERSION)
    reopened = SQLiteStore(db)
    assert reopened.opened_format == FORMAT_VERSION
    assert len(reopened.list_runs()) == len(expected["runs"])
    reopened.close()


async def test_migrated_journal_takes_new_runs_in_the_new_format(tmp_path: Path) -> None:
    """After the migration, new runs are appended (packed) beside the old ones, all readable."""
    db, expected = _fixture(tmp_path)
    store = SQLiteStore(db)
    old = next(iter(expected["events"]))
    decision = expected["events"][old][1]["data"]
    await store.append([Event(run_id="new", seq=1, kind="decision", at=1.0, data=decision)],
                       run=run_info("new", created_at=1e12))
    assert store.events(run_id="new")[0].data == decision
    assert [e.model_dump(mode="json") for e in store.events(run_id=old)] == expected["events"][old]
    store.close()


def test_cli_explains_a_format_1_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`ido explain` and `ido runs` read a format-1 journal (migrated on open)."""
    db, expected = _fixture(tmp_path)
    run_id = expected["runs"][-1]["run_id"]
    assert main(["--store", f"sqlite:///{db}", "explain", run_id]) == 0
    assert run_id in capsys.readouterr().out
    assert main(["--store", f"sqlite:///{db}", "runs"]) == 0
    out = capsys.readouterr().out
    assert all(r["run_id"] in out for r in expected["runs"])


def _fixture_v2(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    db = tmp_path / "journal.db"
    db.write_bytes(gzip.decompress((DATA / "journal_v2.db.gz").read_bytes()))
    expected = json.loads(gzip.decompress((DATA / "journal_v2.expected.json.gz").read_bytes()))
    return db, expected


def test_format_2_journal_reads_as_format_2_code_read_it(tmp_path: Path) -> None:
    """A journal written by format-2 code (rows deflated with zlib framing, a run's first events
    against a seed named in each row) gives back every run, event and revision it held."""
    db, expected = _fixture_v2(tmp_path)
    store = SQLiteStore(db)
    assert store.opened_format == 2
    assert [r.model_dump(mode="json") for r in store.list_runs()] == expected["runs"]
    for run_id, events in expected["events"].items():
        assert [e.model_dump(mode="json") for e in store.events(run_id=run_id)] == events
    for digest, revision in expected["revisions"].items():
        assert store.get_revision(digest=digest) == revision["content"]
    store.close()
    reopened = SQLiteStore(db)
    assert reopened.opened_format == FORMAT_VERSION
    reopened.close()


@pytest.mark.parametrize("command", ["explain", "why_not", "replay"])
def test_format_2_runs_explain_exactly_as_format_2_code_explained_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str,
) -> None:
    """`ido explain`, `why-not` and `replay` (JSON) on a format-2 journal answer, byte for byte
    as parsed JSON, what the format-2 code answered for it."""
    db, expected = _fixture_v2(tmp_path)
    for run_id, answer in expected[command].items():
        args = {"explain": ["explain", run_id], "why_not": ["why-not", run_id, "payment.stripe-eu"],
                "replay": ["replay", run_id]}[command]
        assert main(["--store", f"sqlite:///{db}", *args, "--json"]) == answer["code"]
        assert json.loads(capsys.readouterr().out) == answer["json"]


async def _rewritten(expected: dict[str, Any], db: Path) -> None:
    """Append the fixture's runs again, with today's code, as an engine appends them: a few
    events at a time, each run's row with them, oldest run first."""
    store = SQLiteStore(db)
    for digest, revision in expected["revisions"].items():
        store.put_revision(digest=digest, kind=revision["kind"], content=revision["content"])
    for info in sorted(expected["runs"], key=lambda r: r["created_at"]):
        events = [Event.model_validate(e) for e in expected["events"][info["run_id"]]]
        for start in range(0, len(events), 3):
            await store.append(events[start:start + 3], run=RunInfo.model_validate(info))
    store.close()


async def test_runs_written_today_explain_exactly_as_format_2_code_explained_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """The fixture's runs appended with today's encoding (deflated against their intent's
    seed) read back event for event, and `explain`, `why-not`, `replay` answer the JSON the
    format-2 code answered for them."""
    _, expected = _fixture_v2(tmp_path)
    db = tmp_path / "today.db"
    await _rewritten(expected, db)
    store = SQLiteStore(db)
    for run_id, events in expected["events"].items():
        assert [e.model_dump(mode="json") for e in store.events(run_id=run_id)] == events
    assert [r.model_dump(mode="json") for r in store.list_runs()] == expected["runs"]
    store.close()
    with sqlite3.connect(db) as conn:
        seeded = sum(Packer.seeded(bytes(d)) for (d,) in conn.execute("SELECT data FROM events"))
    conn.close()
    assert seeded > 0  # the later runs were deflated against the first one's texts
    for run_id in expected["explain"]:
        for command, args in (("explain", ["explain", run_id]), ("replay", ["replay", run_id]),
                              ("why_not", ["why-not", run_id, "payment.stripe-eu"])):
            answer = expected[command][run_id]
            assert main(["--store", f"sqlite:///{db}", *args, "--json"]) == answer["code"]
            assert json.loads(capsys.readouterr().out) == answer["json"], (command, run_id)


async def test_format_2_journal_takes_new_runs_beside_the_old_ones(tmp_path: Path) -> None:
    """New events appended to a format-2 journal (a new run, and the next event of an old
    run) read back beside the old rows, which read as before."""
    db, expected = _fixture_v2(tmp_path)
    store = SQLiteStore(db)
    old = next(iter(expected["events"]))
    events = expected["events"][old]
    decision = events[2]["data"]
    await store.append([Event(run_id="new", seq=1, kind="decision", at=1.0, data=decision)],
                       run=run_info("new", created_at=1e12))
    await store.append([Event(run_id=old, seq=len(events) + 1, kind="decision", at=2.0, data=decision)])
    store.close()
    again = SQLiteStore(db)
    assert again.events(run_id="new")[0].data == decision
    got = [e.model_dump(mode="json") for e in again.events(run_id=old)]
    assert got[:-1] == events and got[-1]["data"] == decision
    again.close()


async def test_newer_format_is_refused_naming_both_versions(db_path: Path) -> None:
    """A journal of a newer format is refused: its version, the versions read, what to do."""
    store = SQLiteStore(db_path)
    await store.append([Event(run_id="r", seq=1, kind="run_started", at=1.0)], run=run_info("r"))
    store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE key = 'format_version'", (str(FORMAT_VERSION + 1),))
    conn.close()
    with pytest.raises(JournalError, match=rf"journal format {FORMAT_VERSION + 1}; this ido reads "
                                           rf"formats 1 to {FORMAT_VERSION}.: upgrade ido"):
        SQLiteStore(db_path)


# -- packed rows give back what was appended ------------------------------------------------------

_keys = st.one_of(st.sampled_from(["$r", "$d", "$", "alternatives", "plan", "a"]), st.text(max_size=6))
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(_keys, inner, max_size=5)),
    max_leaves=30,
)


@settings(max_examples=100, deadline=None)
@given(datas=st.lists(st.dictionaries(_keys, _json, max_size=5), min_size=1, max_size=4))
def test_packed_rows_unpack_to_what_was_packed(datas: list[dict[str, Any]]) -> None:
    """Any JSON data, with keys that look like packing marks, unpack equal (as JSON
    round-trips them) from rows deflated against the rows before them."""
    packer = Packer({1: ZDICT_1.encode()}, current=1)
    blobs: dict[bytes, bytes] = {}
    texts: list[bytes] = []
    for data in datas:
        packed = packer.pack(data, what="test data")
        for key, (_, text) in packed.blobs.items():
            blobs[key] = packer.seal_blob(text, None)[0]
        row = packer.seal(packed.text, texts[-3:])
        text = packer.body(row, what="row", previous=texts[-Packer.chained(row):] if Packer.chained(row) else [])
        texts.append(text)

        def blob(key: bytes) -> Any:
            return json.loads(packer.body(blobs[key], what="blob"))

        got = {k: unpack(v, blob) for k, v in json.loads(text).items()}
        assert got == json.loads(json.dumps(data))


_odd_scalars = st.one_of(
    _scalars, st.sampled_from([float("nan"), float("inf"), object(), b"x", {1, 2}]),
    st.tuples(st.integers(), st.text(max_size=3)), st.sampled_from([Trigger.STEP_FAILED, True, 10**20]),
)
_odd_json = st.recursive(
    _odd_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(_keys, st.integers(), st.floats(), st.booleans(), st.none()), inner, max_size=4),
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(data=st.dictionaries(_keys, _odd_json, max_size=4))
def test_fast_encoding_packs_exactly_what_the_careful_one_packs(data: dict[str, Any]) -> None:
    """json's C encoder (the hot path) gives the same bytes, blobs and errors as the
    value-by-value packing, for `$` keys, non-string keys, enums, tuples, NaN and junk alike."""
    packer = Packer({1: ZDICT_1.encode()}, current=1)

    def outcome() -> Any:
        try:
            packed = packer.pack(data, what="test data")
        except JournalError as exc:
            return ("error", str(exc))
        return (packed.text, packed.blobs)

    fast = outcome()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codec, "_plain_text", lambda value: None)
        patch.setattr(codec, "_record_text", lambda value, blobs: None)
        careful = outcome()
    assert fast == careful


# values long enough that a record's top-level values cross TOP_SHARE_MIN (and some NEST_MIN)
# values long enough that a record's top-level values cross TOP_SHARE_MIN (and some NEST_MIN),
# made by repetition: Hypothesis draws long texts and lists slowly
_long_strings = st.one_of(
    st.text(max_size=40), st.integers(0, 700).map(lambda n: "é\n" * n), st.sampled_from(["$r", 'a"$b']),
)
_long_lists = st.integers(0, 1000).map(lambda n: [f"entry {i} of a long list of alternatives" for i in range(n)])
_long_json = st.recursive(
    st.one_of(_scalars, _long_strings),
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(_keys, inner, max_size=5), _long_lists),
    max_leaves=25,
)


@settings(max_examples=120, deadline=None)
@given(data=st.dictionaries(st.one_of(_keys, st.integers(), st.booleans()), _long_json, max_size=12))
def test_record_fast_path_packs_exactly_what_the_careful_path_packs(data: dict[Any, Any]) -> None:
    """`Packer.pack`'s record fast path (one C encode of a short record, a flat loop over a
    long one) gives the same text and blobs, with their keys, as the value-by-value path,
    for records short and long, with `"$` anywhere, long lists chunked and values shared."""
    packer = Packer({1: ZDICT_1.encode()}, current=1)
    fast = packer.pack(data, what="test data")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(codec, "_plain_text", lambda value: None)
        patch.setattr(codec, "_record_text", lambda value, blobs: None)
        careful = packer.pack(data, what="test data")
    assert (fast.text, fast.blobs) == (careful.text, careful.blobs)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(datas=st.lists(st.dictionaries(_keys, _json, max_size=8), min_size=1, max_size=4))
def test_events_read_back_exactly_as_appended(tmp_path: Path, datas: list[dict[str, Any]]) -> None:
    """Events come back from SQLite equal to what was appended, also after reopening."""
    db = tmp_path / f"j{abs(hash(json.dumps(datas, sort_keys=True)))}.db"
    store = SQLiteStore(db, synchronous=True)
    events = [Event(run_id="r", seq=i, kind="decision", at=float(i), data=d) for i, d in enumerate(datas, 1)]
    asyncio.run(store.append(events, run=run_info("r")))
    expected = [json.loads(json.dumps(e.data)) for e in events]
    assert [e.data for e in store.events(run_id="r")] == expected
    store.close()
    again = SQLiteStore(db)
    assert [e.data for e in again.events(run_id="r")] == expected
    again.close()


# -- one damaged row hides nothing else -----------------------------------------------------------

def _decision(run: str, seq: int) -> dict[str, Any]:
    alternatives = [
        {"capability": f"cap-{i}", "verdict": "costlier" if i % 3 else "chosen",
         "reason": f"scores {i * 0.01:.2f} worse than the chosen plan", "numbers": {"cost": i / 7}}
        for i in range(12 + seq % 2)
    ]
    return {"decision_id": f"{run}-d{seq}", "run_id": run, "seq": seq, "alternatives": alternatives,
            "state": {"order.paid": seq > 2, "n": seq}, "reason": "best admissible plan"}


async def _three_runs(path: Path) -> dict[str, list[Event]]:
    store = SQLiteStore(path)
    written: dict[str, list[Event]] = {}
    for r in range(3):
        run = f"run-{r}"
        events = [Event(run_id=run, seq=s, kind="decision", at=float(s), data=_decision(run, s))
                  for s in range(1, 5)]
        await store.append(events[:2], run=run_info(run, created_at=float(r)))
        await store.append(events[2:])
        written[run] = events
    store.close()
    return written


_ROWS = [("runs", r, None) for r in range(3)] + [("events", r, s) for r in range(3) for s in range(1, 5)]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.sampled_from(_ROWS), offset=st.integers(min_value=0, max_value=400),
       bit=st.integers(min_value=0, max_value=7))
def test_corrupting_one_row_leaves_every_other_run_readable(
    tmp_path_factory: pytest.TempPathFactory, row: tuple[str, int, int | None], offset: int, bit: int,
) -> None:
    """Flip one bit of one run's row or event row: every other run lists, reads and
    explains as before; the damaged run, when its damage shows, is named."""
    db = tmp_path_factory.mktemp("corrupt") / "journal.db"
    written = asyncio.run(_three_runs(db))
    table, r, seq = row
    damaged = f"run-{r}"
    with sqlite3.connect(db) as conn:
        if table == "runs":
            where, params = "run_id = ?", (damaged,)
            column = "info"
        else:
            assert seq is not None
            where, params = "id = ?", (event_key(conn, damaged, seq),)
            column = "data"
        (value,) = conn.execute(f"SELECT {column} FROM {table} WHERE {where}", params).fetchone()
        data = bytearray(value)
        data[offset % len(data)] ^= 1 << bit
        conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (bytes(data), *params))
    conn.close()
    store = SQLiteStore(db)
    listed = {x.run_id for x in store.list_runs()}
    assert listed | set(store.corrupted_runs) == set(written)
    assert set(store.corrupted_runs) <= {damaged}
    for run, events in written.items():
        if run == damaged:
            try:
                store.events(run_id=run)
            except JournalCorrupted as exc:
                assert exc.run_id == run and run in str(exc)
            continue
        assert store.get_run(run_id=run).run_id == run
        assert store.events(run_id=run) == events
    store.close()


async def test_damaged_shared_part_is_named(db_path: Path) -> None:
    """A damaged shared part (a blob) is reported as such, naming the run and event that need it."""
    await _three_runs(db_path)
    with sqlite3.connect(db_path) as conn:
        key, data = conn.execute("SELECT key, data FROM blobs LIMIT 1").fetchone()
        conn.execute("UPDATE blobs SET data = ? WHERE key = ?", (data[:-3] + b"xyz", key))
    conn.close()
    store = SQLiteStore(db_path)
    with pytest.raises(JournalCorrupted, match=r"event 1 \(decision\) of run run-0 .*shared part"):
        store.events(run_id="run-0")
    store.close()


# -- files that are not what they seem --------------------------------------------------------

async def test_empty_file_is_reported_by_read_only_commands(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """`ido runs` on a 0-byte journal says it is empty, not that no runs are recorded."""
    db = tmp_path / "journal.db"
    db.write_bytes(b"")
    assert main(["--store", f"sqlite:///{db}", "runs"]) == 2
    err = capsys.readouterr().err
    assert "empty file (0 bytes)" in err and str(db) in err
    assert db.stat().st_size == 0  # reading did not turn it into a journal


async def test_lost_write_ahead_log_is_reported(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A journal whose -wal is gone while its -shm is left (a crash, then a partial copy) is
    reported as such, with what to do."""
    await _three_runs(db_path)
    shm = Path(f"{db_path}-shm")
    shm.write_bytes(b"\0" * 32768)
    assert main(["--store", f"sqlite:///{db_path}", "runs"]) == 2
    err = capsys.readouterr().err
    assert "lost its write-ahead log" in err and "journal.db-wal" in err
    shm.unlink()
    assert main(["--store", f"sqlite:///{db_path}", "runs"]) == 0


async def test_long_values_with_mark_like_keys_come_back(db_path: Path) -> None:
    """Long values (stored once, deflated against the previous one) holding dicts whose keys
    look like packing marks come back equal, in every event that shares them."""
    entry = {"$r": "not a reference", "$d": {"$r": 1}, "reason": "x" * 40}
    big = [dict(entry, n=i) for i in range(40)]  # > 16 KiB: its parts are shared as well
    store = SQLiteStore(db_path)
    events = [Event(run_id="r", seq=s, kind="decision", at=1.0,
                    data={"alternatives": big[: 10 + s], "huge": big * 12, "$r": s}) for s in range(1, 6)]
    await store.append(events[:2], run=run_info("r"))
    await store.append(events[2:])
    store.close()
    again = SQLiteStore(db_path)
    assert again.events(run_id="r") == events
    with sqlite3.connect(db_path) as conn:
        based = sum(Packer.blob_base(bytes(d)) is not None for (d,) in conn.execute("SELECT data FROM blobs"))
    conn.close()
    assert based >= 1  # a changed list was stored against the one before it
    again.close()


# -- the seed of an intent -------------------------------------------------------------------------

async def _finished_run(store: SQLiteStore, run: str, *, intent: str = "order-fulfilled",
                        created_at: float = 1.0) -> list[Event]:
    """Append a four-decision run of `intent` in two appends, the last one finishing it."""
    events = [Event(run_id=run, seq=s, kind="decision", at=float(s), data=_decision(run, s)) for s in range(1, 5)]
    await store.append(events[:2], run=run_info(run, intent=intent, created_at=created_at))
    await store.append(events[2:], run=run_info(run, intent=intent, created_at=created_at, status="succeeded"))
    return events


def _seeds(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        rows = dict(conn.execute("SELECT key, value FROM meta WHERE key LIKE 'runseed.%'").fetchall())
    conn.close()
    return rows


def _seeded_rows(db: Path, run_id: str) -> int:
    with sqlite3.connect(db) as conn:
        n = sum(Packer.seeded(bytes(d)) for (d,) in conn.execute(
            "SELECT data FROM events WHERE id >> 32 = (SELECT run_key FROM runs WHERE run_id = ?)", (run_id,)))
    conn.close()
    return n


async def test_an_intent_has_one_seed_made_by_its_first_finished_run(db_path: Path) -> None:
    """The first run of an intent to finish becomes its seed, once: a store that opened the
    journal before (another process) uses that one rather than making its own, later runs
    are deflated against it, and every store reads every run back as appended."""
    early = SQLiteStore(db_path)
    assert early.list_runs() == []  # opened, looked, found no seed
    first = SQLiteStore(db_path)
    written = {"a": await _finished_run(first, "a")}
    assert list(_seeds(db_path)) == ["runseed.order-fulfilled"]
    seed = _seeds(db_path)
    assert _seeded_rows(db_path, "a") == 0  # it had no seed when written
    written["b"] = await _finished_run(early, "b", created_at=2.0)
    written["c"] = await _finished_run(first, "c", created_at=3.0)
    written["other"] = await _finished_run(first, "other", intent="refund-issued", created_at=4.0)
    assert _seeds(db_path) == {**seed, "runseed.refund-issued": _seeds(db_path)["runseed.refund-issued"]}
    assert _seeded_rows(db_path, "b") > 0 and _seeded_rows(db_path, "c") > 0
    early.close()
    first.close()
    again = SQLiteStore(db_path)
    for run, events in written.items():
        assert again.events(run_id=run) == events
    assert {r.run_id for r in again.list_runs()} == set(written)
    again.close()


async def test_damaged_seed_is_named_and_hides_only_the_runs_deflated_against_it(db_path: Path) -> None:
    """A damaged seed is reported as a damaged shared part for the runs deflated against it;
    the run it was made of still reads, and appending goes on (without it)."""
    store = SQLiteStore(db_path)
    first = await _finished_run(store, "a")
    await _finished_run(store, "b", created_at=2.0)
    store.close()
    key = ref_digest(_seeds(db_path)["runseed.order-fulfilled"])
    with sqlite3.connect(db_path) as conn:
        (data,) = conn.execute("SELECT data FROM blobs WHERE key = ?", (blob_key(key),)).fetchone()
        conn.execute("UPDATE blobs SET data = ? WHERE key = ?", (data[:-3] + b"xyz", blob_key(key)))
    conn.close()
    again = SQLiteStore(db_path)
    assert again.events(run_id="a") == first
    with pytest.raises(JournalCorrupted, match=r"of run b .*shared part") as caught:
        again.events(run_id="b")
    assert caught.value.run_id == "b"
    later = await _finished_run(again, "c", created_at=3.0)
    assert again.events(run_id="c") == later
    again.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stamps=st.lists(st.tuples(st.sampled_from(KIND_CODES), st.sampled_from([0.0, 1.0, 1.5, -2.0])),
                       min_size=1, max_size=8),
       cut=st.integers(min_value=1, max_value=8))
def test_kinds_and_times_read_back_as_appended(
    tmp_path_factory: pytest.TempPathFactory, stamps: list[tuple[str, float]], cut: int,
) -> None:
    """Every kind, and times repeated from one event to the next (stored once), zero or not,
    come back as appended, across appends and after reopening."""
    db = tmp_path_factory.mktemp("times") / "journal.db"
    store = SQLiteStore(db, synchronous=True)
    events = [Event(run_id="r", seq=i, kind=kind, at=at, data={"i": i})  # type: ignore[arg-type]
              for i, (kind, at) in enumerate(stamps, 1)]
    asyncio.run(store.append(events[:cut], run=run_info("r")))
    if events[cut:]:
        asyncio.run(store.append(events[cut:]))
    assert store.events(run_id="r") == events
    store.close()
    again = SQLiteStore(db)
    assert again.events(run_id="r") == events
    assert again.events(run_id="r", kinds=["decision"]) == [e for e in events if e.kind == "decision"]
    again.close()


async def test_kind_code_of_a_newer_ido_is_named(db_path: Path) -> None:
    """An event whose stored kind code this ido does not know is reported, naming the code."""
    store = SQLiteStore(db_path)
    await store.append([Event(run_id="r", seq=1, kind="decision", at=1.0)], run=run_info("r"))
    store.close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE events SET kind = '99' WHERE id = ?", (event_key(conn, "r", 1),))
    conn.close()
    again = SQLiteStore(db_path)
    with pytest.raises(JournalCorrupted, match=r"event 1 .99. of run r .*kind code 99 is unknown"):
        again.events(run_id="r")
    again.close()


async def test_dictionary_of_a_newer_ido_is_named_at_open(db_path: Path) -> None:
    """The meta table names the field-name dictionary by digest; one this ido does not have
    (a newer ido's) is refused at open, saying so, not read as garbage."""
    store = SQLiteStore(db_path)
    await store.append([Event(run_id="r", seq=1, kind="decision", at=1.0)], run=run_info("r"))
    store.close()
    with sqlite3.connect(db_path) as conn:
        assert len(conn.execute("SELECT value FROM meta WHERE key = 'zdict.1'").fetchone()[0]) == 8
        conn.execute("UPDATE meta SET value = ? WHERE key = 'zdict.1'", (b"12345678",))
    conn.close()
    with pytest.raises(JournalCorrupted, match=r"preset dictionary 1 this ido cannot use: .*newer ido"):
        SQLiteStore(db_path)


async def test_a_long_list_changing_a_few_entries_stores_about_what_changed(db_path: Path) -> None:
    """A top-level list too long for one deflate window (a large registry's alternatives),
    whose entries change a few at a time, comes back equal from every event; its entries are
    deflated together, and each later version takes a fraction of the first (runs of entries,
    each deflated against its previous version)."""
    entries = [{"capability": f"role{i % 5}.provider{i:04d}", "verdict": "costlier", "$d": i,
                "reason": f"costlier: the best plan with it scores {1 + i / 997:.4f}", "numbers": {"cost": i / 7}}
               for i in range(300)]
    versions = [entries]
    for s in range(1, 5):
        changed = [dict(e) for e in versions[-1]]
        for i in (s * 7, s * 61 % 300, s * 113 % 300):
            changed[i] = dict(changed[i], verdict="chosen", reason=f"chosen in version {s}")
        versions.append(changed)
    store = SQLiteStore(db_path)
    sizes = []
    for s, alternatives in enumerate(versions, 1):
        with sqlite3.connect(db_path) as conn:
            before = conn.execute("SELECT coalesce(sum(length(data)), 0) FROM blobs").fetchone()[0]
        conn.close()
        await store.append([Event(run_id="r", seq=s, kind="decision", at=1.0, data={"alternatives": alternatives})],
                           run=run_info("r"))
        with sqlite3.connect(db_path) as conn:
            sizes.append(conn.execute("SELECT sum(length(data)) FROM blobs").fetchone()[0] - before)
        conn.close()
    store.close()
    again = SQLiteStore(db_path)
    assert [e.data["alternatives"] for e in again.events(run_id="r")] == versions
    again.close()
    assert sizes[0] < len(json.dumps(entries)) / 4, sizes  # its entries deflated together
    assert all(later < sizes[0] / 4 for later in sizes[1:]), sizes
