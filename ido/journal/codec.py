"""How journal data are packed into bytes: shared parts once by digest, zlib against what came before.

A journal holds many decision records that repeat one another: the same
alternatives with the same reasons, the same plan, the same health, within a
run and across runs. `Packer.pack` turns an event's data into packed JSON
text where a long top-level value (`TOP_SHARE_MIN`) becomes a reference
`{"$r": DIGEST}` to a *blob* stored once per digest; a list too long to
deflate against its previous version (`NEST_MIN`) is stored in runs of
`CHUNK_ENTRIES` entries, `{"$c": [references]}`, each run a blob deflated
against the previous run at its index (format 4); another value that long
has its parts shared one by one. A dict of the caller's data with keys starting with `$` is
wrapped as `{"$d": {...}}`, so it is never mistaken for a reference.

Rows are bytes: a three-byte header (flags, preset dictionary id, how many
earlier texts it was deflated against) then the UTF-8 JSON, deflated
against the dictionary of ido's field names (`ZDICT_1`, kept in the
journal) plus those earlier texts when that is shorter: an event row
against the run's previous events (`seal`), a blob against its previous
versions under the same key (`seal_blob`, `FLAG_BASED`: the base's key
follows the header), and an event or run row against its intent's *seed*
(`FLAG_SEEDED`: the texts of an earlier whole run of the intent, stored
once; the row does not name it, its run's intent does). Rows written since
format 3 are raw deflate followed by the text's Adler-32 (`FLAG_RAW`: zlib's
framing without its header and dictionary id, 6 bytes less a row); format 2
rows (zlib framing, a seed named in the row) read as they were. `body` gives
the text back and `unpack` resolves references, so what a store returns is
exactly the data it was given (as JSON round-trips it).

Called by `ido.journal.sqlite`, which decides what each row is deflated against.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from typing import Any

from ido.errors import JournalCorrupted, JournalError
from ido.journal._common import encode
from ido.journal.jsontext import compact_json, json_text

#: a dict or list inside a shared part whose compact JSON is at least this long is shared too.
SHARE_MIN = 128
#: a value of an event's top level is shared from this long (what is shorter and repeats is
#: mostly the run's own, which deflating against the run's previous events stores well).
TOP_SHARE_MIN = 512
#: zlib's window: a preset dictionary longer than this is used from its end.
WINDOW = 32768
#: a long value is deflated against its previous version while both fit zlib's window;
#: a longer one (a large registry's alternatives) has its parts shared one by one instead.
NEST_MIN = WINDOW - 2048
#: row header: flags, dictionary id, how many previous event texts the row was deflated against.
HEADER = 3
#: zlib's memLevel for rows: 8 (zlib's default) halves the compressor's hash and pending
#: buffers (64 KB each, not 128 KB: below glibc's initial mmap threshold), for the same bytes
#: on every engine row measured (`benchmarks/codec.py`). Where the allocator maps the larger
#: buffers per compressor, a row's deflate is several times dearer at 9; in the engine's writer
#: thread the gain measured ~6% of its CPU. Readers do not depend on it.
MEM_LEVEL = 8
#: rows shorter than this are not worth deflating (zlib's header and checksum cost 6 bytes).
DEFLATE_MIN = 24

FLAG_DEFLATED = 1
#: a blob deflated against another blob (its key follows the header); in format 2 also an
#: event or run row deflated against a seed blob named that way
FLAG_BASED = 2
#: raw deflate then the text's Adler-32 (4 bytes, big-endian), not zlib's framing (format 3)
FLAG_RAW = 4
#: deflated against its intent's seed first, then the `previous` texts (format 3)
FLAG_SEEDED = 8
#: an event row whose time is the previous event's of its run (its `at` column holds 0:
#: stored in no bytes); set by the store, ignored by `body` (format 3)
FLAG_SAME_AT = 16
_FLAGS = FLAG_DEFLATED | FLAG_BASED | FLAG_RAW | FLAG_SEEDED | FLAG_SAME_AT

#: event kinds stored as the text of their index here (one byte, not up to 18) since format 3.
#: Append only: a stored code is an index into this tuple. A kind not here is stored by name.
KIND_CODES = (
    "run_started", "revision", "observation", "health", "decision", "dispatched", "outcome",
    "approval_requested", "approval_given", "status", "fault",
)
#: Adler-32 of the text, after a raw-deflated body
CHECK = 4
#: a blob is deflated against at most this many blobs in a row (then one stands alone)
BLOB_CHAIN = 16

REF, LITERAL, CHUNKS = "$r", "$d", "$c"
#: a top-level list too long to deflate against its previous version is stored in runs of
#: this many entries, each deflated against the previous version of its run (format 4)
CHUNK_ENTRIES = 16

#: the preset dictionary new journals deflate with (id 1), stored in the journal itself
#: so that a later ido with another dictionary still reads the rows written with this one.
#: It holds the names and common values of the fields ido's events carry; zlib prefers
#: what is most used at the end.
ZDICT_1 = (
    '"format_version":1,"notes":[],"outcomes":[],"faults":[],"exclude":[],"approved":[],'
    '"pinned":null,"wake_at":null,"plan_reused":false,"health_digest":"","inputs_digest":"",'
    '"metrics":{"nodes_expanded":,"nodes_generated":,"relevant_capabilities":,"milliseconds":},'
    '"remaining":{"budget":,"deadline_s":,"steps":null,"spent":,"elapsed_s":},'
    '"revisions":{"intent":"","capabilities":"","policies":""},"strategy":"adaptive",'
    '"conditions":[{"type":"Satisfied","status":true,"reason":"GoalHolds","message":"",'
    '{"type":"Progressing","status":false,{"type":"Degraded","status":false,"reason":"Healthy",'
    '{"type":"Blocked","status":false,"reason":"NotBlocked",'
    '"circuit":"closed","circuit":"open","circuit":"half-open","success_rate":,"latency_s":,'
    '"samples":,"consecutive_failures":0,"retry_at":null,"updated_at":,'
    '"verdict":"costlier","verdict":"denied","verdict":"unreachable","verdict":"chosen",'
    '"score_delta":null,"unmet_fact":null,"policies":[],"numbers":{"cost":,"latency_s":,'
    '"success_probability":,"score":,"circuit":"closed"}},'
    '"feasible":true,"steps":[{"after":[],"requires_approval":false,"approval_policies":[]},'
    '"breakdown":{"cost":,"latency":,"risk":,"preference":,'
    '"status":"succeeded","hit":true,"error":null,"error_kind":null,"plan_step":null,'
    '"compensation":false,"attempt":1,"idempotency_key":"","status":"running",'
    '"run_started","decision","dispatched","outcome","status","intent":"","inputs":{},'
    '"given":{},"set":{},"state":{},"options":{},"created_at":,"cost":0.0,"steps_executed":,'
    '"decisions":,"trigger":"start","trigger":"step_succeeded","trigger":"step_failed",'
    '"action":"dispatch","action":"wait","action":"succeed","action":"fail",'
    '"gap":{"want":"= true","have":false},"health":{},"attempts":{},"chosen":[],"reason":"",'
    '"predicted":{},"in_flight":[],"dispatch":[0],"cause":"","now":,"health_at":,'
    '"steps_taken":,"capability":"","provides":"","facts":{},"decision_id":"","step":,'
    '"parent_id":"","run_id":"","seq":,"at":"T:00.000+00:00","plan":{"intent":"",'
    '"alternatives":[{"capability":"","provides":"","verdict":"costlier","reason":"'
)


class Packer:
    """Packs JSON values into rows and blobs, deflating against preset dictionaries.

    One per store, shared by its writer and readers (it holds no state but the
    dictionaries). `dictionaries` maps id -> preset dictionary; `current` is the
    id new rows are deflated with (0: none).
    """

    def __init__(self, dictionaries: Mapping[int, bytes], current: int) -> None:
        self.dictionaries = dict(dictionaries)
        self.current = current

    # -- writing -------------------------------------------------------------------------------

    def pack(self, data: Any, *, what: str) -> Packed:
        """Return `data` packed: its JSON text, large parts replaced by references, and the
        blobs those refer to. Raises JournalError naming `what` when `data` is not plain JSON."""
        blobs: dict[bytes, tuple[str, bytes]] = {}
        try:
            if isinstance(data, dict):  # the top level's own keys are never escaped
                fast = _record_text(data, blobs)
                if fast is not None:
                    return Packed(text=fast.encode(), blobs=blobs)
                blobs.clear()  # the careful path below packs it all again
                body = ",".join(
                    f"{encode_basestring(_key(k))}:{_shared(v, blobs, str(k))}" for k, v in data.items()
                )
                return Packed(text=("{" + body + "}").encode(), blobs=blobs)
            text = _text(data, blobs, None)
            if len(text) > NEST_MIN:  # too long to deflate against its previous version: share its parts
                text = _text(data, blobs, SHARE_MIN, top=True)
            return Packed(text=text.encode(), blobs=blobs)
        except (TypeError, ValueError) as exc:
            raise JournalError(
                f"{what} cannot be stored: {exc}; journal data must be plain JSON "
                "(dicts, lists, strings, numbers, booleans, null)"
            ) from None
        except RecursionError:
            encode(data, what=what)  # a cycle: JournalError with json's message, as other stores say
            raise

    def pack_shared(self, data: Any, *, path: str, what: str) -> Packed:
        """Return `data` packed as one shared value (a reference when long) stored under
        `path`, deflated against the previous value stored there. Read back with `unpack`."""
        blobs: dict[bytes, tuple[str, bytes]] = {}
        try:
            return Packed(text=_shared(data, blobs, path).encode(), blobs=blobs)
        except (TypeError, ValueError) as exc:
            raise JournalError(
                f"{what} cannot be stored: {exc}; journal data must be plain JSON "
                "(dicts, lists, strings, numbers, booleans, null)"
            ) from None
        except RecursionError:
            encode(data, what=what)  # a cycle: JournalError with json's message, as other stores say
            raise

    def seal(self, raw: bytes, previous: Sequence[bytes] = (), seed: bytes | None = None) -> bytes:
        """Return row bytes for `raw`: a header, then `raw` deflated when that is shorter.

        `previous`: the texts of the run's events just before this one (oldest
        first); deflating against them stores mostly what changed. `seed`: the
        text of the seed of the row's intent (an earlier whole run of it, see
        `ido.journal.sqlite`), which holds what runs of one intent repeat of one
        another (`FLAG_SEEDED`). A reader must give the same texts back to `body`.
        """
        if len(raw) < DEFLATE_MIN or not self.current:
            return bytes((0, 0, 0)) + raw
        # with a seed, only against it: a seed of the row's own intent is seldom worse by more
        # than a few bytes, and one deflate less is a third of the writer's time for a row
        if seed is None:
            row = bytes((FLAG_DEFLATED | FLAG_RAW, self.current, len(previous))) + self._deflate(raw, previous)
        else:
            row = bytes((FLAG_DEFLATED | FLAG_RAW | FLAG_SEEDED, self.current, len(previous))) + \
                self._deflate(raw, [seed, *previous])
        return row if len(row) < len(raw) + HEADER else bytes((0, 0, 0)) + raw

    def _deflate(self, raw: bytes, previous: Sequence[bytes]) -> bytes:
        """Return `raw` raw-deflated against the dictionary and `previous`, then its Adler-32."""
        comp = zlib.compressobj(9, zlib.DEFLATED, -15, MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY,
                                self._zdict(self.current, previous))
        return comp.compress(raw) + comp.flush() + zlib.adler32(raw).to_bytes(CHECK, "big")

    def seal_blob(self, raw: bytes, base: tuple[bytes, tuple[bytes, ...]] | None) -> tuple[bytes, int]:
        """Return (row bytes, depth) for a blob: deflated against `base` = (its key, the texts
        of its chain: from the blob stored alone to it) when given and not too long, else
        against the dictionary alone (depth 0)."""
        if base is None or len(base[1]) >= BLOB_CHAIN or not self.current:
            return self.seal(raw), 0
        key, chain = base
        depth = len(chain) - 1
        small = self._deflate(raw, chain)
        plain = self.seal(raw)
        if len(small) + 8 >= len(plain):
            return plain, 0
        return bytes((FLAG_DEFLATED | FLAG_RAW | FLAG_BASED, self.current, depth + 1)) + key + small, depth + 1

    @staticmethod
    def blob_base(row: bytes) -> bytes | None:
        """Return the key of the blob a row was deflated against (a blob's previous version,
        an event's seed), if any."""
        return row[HEADER:HEADER + 8] if len(row) >= HEADER + 8 and row[0] & FLAG_BASED else None

    def _zdict(self, dict_id: int, previous: Sequence[bytes]) -> bytes:
        zdict = self.dictionaries[dict_id] + b"".join(previous)
        return zdict[-WINDOW:]

    # -- reading -------------------------------------------------------------------------------

    @staticmethod
    def chained(row: bytes) -> int:
        """Return how many of the run's previous event texts `row` was deflated against."""
        if len(row) < HEADER:
            return 0
        return row[2] - 1 if row[0] & FLAG_BASED and row[2] else row[2]

    @staticmethod
    def seeded(row: bytes) -> bool:
        """Return whether `row` was deflated against its intent's seed (give it to `body`)."""
        return len(row) >= HEADER and bool(row[0] & FLAG_SEEDED)

    def body(self, row: bytes, *, what: str, previous: Sequence[bytes] = (), seed: bytes | None = None) -> bytes:
        """Return the JSON text of a row; raises JournalCorrupted naming `what`.

        `previous`: the texts of the `chained(row)` events before it, oldest first
        (a format-2 row's seed first); `seed`: its intent's seed when `seeded(row)`.
        """
        try:
            if len(row) < HEADER:
                raise ValueError("it is shorter than its header")
            flags, dict_id, chain = row[0], row[1], row[2]
            if flags & ~_FLAGS:
                raise ValueError(f"its header has unknown flags {flags}")
            body = row[HEADER:]
            if flags & FLAG_BASED:  # deflated against its chain: `chain` blobs before it
                body = body[8:]
            if flags & FLAG_DEFLATED:
                if dict_id not in self.dictionaries:
                    raise ValueError(f"it was deflated with dictionary {dict_id}, which the journal lacks")
                if chain != len(previous):
                    raise ValueError(f"it needs the {chain} events before it, {len(previous)} were read")
                if flags & FLAG_SEEDED:
                    if seed is None:
                        raise ValueError("it was deflated against its intent's seed, which the journal lacks")
                    previous = [seed, *previous]
                body = self._inflate(body, self._zdict(dict_id, previous), raw=bool(flags & FLAG_RAW))
            elif flags & ~FLAG_SAME_AT:
                raise ValueError(f"its header has flags {flags} without the deflated one")
            return body
        except (ValueError, zlib.error) as exc:
            raise JournalCorrupted(f"{what} does not decode: {exc}") from None

    @staticmethod
    def _inflate(body: bytes, zdict: bytes, *, raw: bool) -> bytes:
        """Return `body` inflated against `zdict`: raw deflate then an Adler-32 when `raw`,
        else zlib's framing (format 2); ValueError when cut short or not matching its check."""
        if raw:
            body, check = body[:-CHECK], body[-CHECK:]
        decomp = zlib.decompressobj(-15 if raw else 15, zdict)
        text = decomp.decompress(body) + decomp.flush()
        if not decomp.eof or (raw and len(check) < CHECK):
            raise ValueError("its compressed data are cut short")
        if decomp.unused_data:
            raise ValueError("it has data after its compressed data")
        if raw and zlib.adler32(text).to_bytes(CHECK, "big") != check:
            raise ValueError("its text does not match its checksum (damaged)")
        return text


def same_at(row: bytes) -> bool:
    """Return whether an event row's time is its run's previous event's (`FLAG_SAME_AT`)."""
    return len(row) >= HEADER and bool(row[0] & FLAG_SAME_AT)


def with_same_at(row: bytes) -> bytes:
    """Return `row` flagged as timed like its run's previous event (`FLAG_SAME_AT`)."""
    return bytes((row[0] | FLAG_SAME_AT,)) + row[1:]


def kind_code(kind: str) -> str:
    """Return how an event kind is stored: its index in `KIND_CODES` as text, else its name."""
    try:
        return str(KIND_CODES.index(kind))
    except ValueError:
        return kind


def kind_name(stored: str) -> str:
    """Return the event kind a stored kind names (`kind_code` reversed; format 2 stored names).
    Raises ValueError for a code this ido does not know (a newer ido's)."""
    if not stored.isdigit():
        return stored
    index = int(stored)
    if index >= len(KIND_CODES):
        raise ValueError(f"its kind code {stored} is unknown to this ido (written by a newer one?)")
    return KIND_CODES[index]


def load(text: bytes | str, *, what: str) -> Any:
    """Return parsed JSON; raises JournalCorrupted naming `what` when it does not parse."""
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JournalCorrupted(f"{what} does not decode: {exc}") from None


@dataclass
class Packed:
    """A value packed for storage: its JSON text and the blobs (digest -> JSON text) it refers to."""

    text: bytes
    #: digest -> (the top-level key it was found under, or "" inside another, its JSON text)
    blobs: dict[bytes, tuple[str, bytes]] = field(default_factory=dict)


def digest(text: bytes) -> bytes:
    """Return the 8-byte content digest a blob is stored under (its JSON text's BLAKE2b)."""
    return hashlib.blake2b(text, digest_size=8).digest()


def blob_key(key: bytes) -> int:
    """Return the SQLite integer key of a blob digest (its 8 bytes as a signed integer)."""
    return int.from_bytes(key, "big", signed=True)


def ref_text(key: bytes) -> str:
    """Return a digest as written in a reference: base64 without padding (11 characters)."""
    return base64.b64encode(key).decode().rstrip("=")


def ref_digest(text: str) -> bytes:
    """Return the digest a reference names; raises ValueError when it is not one."""
    key = base64.b64decode(text + "=", validate=True)
    if len(key) != 8:
        raise ValueError(f"reference {text!r} is not a blob digest")
    return key


def _key(k: Any) -> str:
    # JSON object keys are strings; json.dumps turns these scalars into their JSON text.
    if isinstance(k, str):
        return k
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, int):
        return int.__repr__(k)
    if isinstance(k, float):
        return _float(k)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(k).__name__}")


def _float(v: float) -> str:
    text = float.__repr__(v)
    if text in ("nan", "inf", "-inf"):
        raise ValueError(f"Out of range float values are not JSON compliant: {text}")
    return text


def _shared(value: Any, blobs: dict[bytes, tuple[str, bytes]], path: str) -> str:
    """Return the packed text of a top-level value: a reference when it is long (its parts
    are shared too when it is too long to deflate against its previous version)."""
    if not isinstance(value, dict | list | tuple):
        return _text(value, blobs, None)
    text = _text(value, {}, None)
    if len(text) < TOP_SHARE_MIN:
        return text
    if len(text) > NEST_MIN:
        if isinstance(value, list | tuple) and path:
            return _blob(_chunked(value, blobs, path), blobs, path)
        text = _text(value, blobs, SHARE_MIN, top=True)
    return _blob(text, blobs, path)


def _chunked(items: list[Any] | tuple[Any, ...], blobs: dict[bytes, tuple[str, bytes]], path: str) -> str:
    """Return the packed text of a long list stored in runs of `CHUNK_ENTRIES` entries: the
    run at index i a blob under `path#i`, deflated against the previous run stored there, so
    that a list whose entries change a few at a time (a large registry's alternatives)
    stores about what changed. Read back by `unpack` (`{"$c": [runs]}`, concatenated)."""
    refs = [
        _blob(_text(list(items[start:start + CHUNK_ENTRIES]), {}, None), blobs, f"{path}#{start // CHUNK_ENTRIES}")
        for start in range(0, len(items), CHUNK_ENTRIES)
    ]
    return f'{{"{CHUNKS}":[{",".join(refs)}]}}'


def _blob(text: str, blobs: dict[bytes, tuple[str, bytes]], path: str, *, same: bool = False) -> str:
    """Return the reference to `text` stored as a blob under `path`, adding it to `blobs`.
    `same`: `text` is a frozen value's (`ido.journal.jsontext`), the very string each time, so
    its bytes and digest are remembered by identity rather than made again per record."""
    hit = _SAME_BLOBS.get(id(text)) if same else None
    if hit is not None and hit[0] is text:
        _, raw, key, ref = hit
    else:
        raw = text.encode()
        key = digest(raw)
        ref = f'{{"{REF}":"{ref_text(key)}"}}'
        if same:
            if len(_SAME_BLOBS) >= _SAME_BLOBS_KEPT:
                _SAME_BLOBS.clear()
            _SAME_BLOBS[id(text)] = (text, raw, key, ref)
    blobs[key] = (path, raw)
    return ref


#: id(text) -> (text, its bytes, digest, reference) of the frozen values' texts made blobs lately
#: (held, so an id is not reused while remembered); records share the current few.
_SAME_BLOBS: dict[int, tuple[str, bytes, bytes, str]] = {}
_SAME_BLOBS_KEPT = 256


def _text(value: Any, blobs: dict[bytes, tuple[str, bytes]], share_min: int | None, *,
          top: bool = False) -> str:
    """Return the packed JSON text of `value`, adding the blobs its large parts become.

    With `share_min`, a dict or list at least that long becomes a reference
    (`value` itself only unless `top`); None: nothing is shared.
    """
    if share_min is None and isinstance(value, dict | list | tuple):
        fast = _plain_text(value)
        if fast is not None:
            return fast
    if isinstance(value, str):
        return encode_basestring(value)
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        items = [(_key(k), _text(v, blobs, share_min)) for k, v in value.items()]
        body = ",".join(f"{encode_basestring(k)}:{v}" for k, v in items)
        text = "{" + body + "}"
        if any(k.startswith("$") for k, _ in items):
            text = f'{{"{LITERAL}":{text}}}'
    elif isinstance(value, list | tuple):
        text = "[" + ",".join(_text(v, blobs, share_min) for v in value) + "]"
    else:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")
    if top or share_min is None or len(text) < share_min:
        return text
    return _blob(text, blobs, "")


#: json's encoder with the separators and escaping `_text` uses: the same text, ten times sooner.
_PLAIN = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
#: `_PLAIN.encode` by json's C encoder made once (`JSONEncoder.encode` makes one per call,
#: which costs more than encoding a short value); a cycle ends in RecursionError, which sends
#: the value to `_text` as json's ValueError("Circular reference detected") did.
_encode = compact_json


def _record_text(data: dict[Any, Any], blobs: dict[bytes, tuple[str, bytes]]) -> str | None:
    """Return what `Packer.pack` makes of an event's data (a dict), adding its blobs, or None
    when only the careful path can say (a `"$` in a value's text, data json refuses).

    The same text as the careful path, by fewer and cheaper calls: a record of few keys
    is first encoded whole by json's C encoder (short, then no value of it is long enough
    to be shared); a record of many keys (a decision, mostly long) or a long one is
    encoded value by value in a flat loop, and only a long value (at least
    `TOP_SHARE_MIN`) goes through `_shared`. Without a `"$` in a container value's
    text, that text is its `_plain_text` (scalars are never wrapped; top-level keys
    are never escaped). Called by `Packer.pack` for every event.
    """
    try:
        if len(data) <= _WHOLE_KEYS:
            whole = _encode(data)
            if len(whole) < TOP_SHARE_MIN:
                return None if '"$' in whole else whole
        parts = []
        for k, v in data.items():
            key = encode_basestring(k if type(k) is str else _key(k))
            if type(v) is str:
                parts.append(f"{key}:{encode_basestring(v)}")
            elif isinstance(v, dict | list | tuple):
                made = json_text(v)  # a frozen value shared by many records: its text made once
                text = _encode(v) if made is None else made
                if '"$' in text:
                    return None
                if len(text) >= TOP_SHARE_MIN:
                    if len(text) > NEST_MIN:
                        text = _shared(v, blobs, str(k))
                    else:
                        text = _blob(text, blobs, str(k), same=made is not None)
                parts.append(f"{key}:{text}")
            else:
                parts.append(f"{key}:{_text(v, blobs, None)}")
    except (TypeError, ValueError, RecursionError):
        return None  # the careful path raises its own messages
    return "{" + ",".join(parts) + "}"


#: a record of at most this many keys is encoded whole first (the events other than
#: decisions, mostly short); one of more (a decision) value by value. Speed only: both
#: ways give the same text.
_WHOLE_KEYS = 24


def _plain_text(value: Any) -> str | None:
    """Return `_text(value, {}, None)` by json's C encoder, or None when only `_text` can say.

    Every value `_text` accepts comes out the same from both (int and float
    subclasses by their base `repr`, tuples as lists, keys as `_key` writes them)
    except a dict with a key starting with `$`, which `_text` wraps as a literal:
    a key is written `"key"` and `$` is never escaped, so `"$` in the text is
    the sign. Values either rejects are left to `_text`, for its messages.
    Called by `_text` on its hot path (every event's top-level values).
    """
    try:
        text = _encode(value)
    except (TypeError, ValueError, RecursionError):
        return None
    return None if '"$' in text else text


def unpack(value: Any, blob: Callable[[bytes], Any]) -> Any:
    """Return `value` (packed, parsed from JSON) with references resolved and literals unwrapped.

    `blob(digest)` returns a blob's parsed JSON (raising JournalCorrupted when
    missing or damaged). Fresh containers are built on every call, so values
    returned never share mutable parts.
    """
    if isinstance(value, dict):
        if len(value) == 1:
            if REF in value:
                return unpack(blob(ref_digest(str(value[REF]))), blob)
            if LITERAL in value:
                return {k: unpack(v, blob) for k, v in value[LITERAL].items()}
            if CHUNKS in value:
                return [entry for run in value[CHUNKS] for entry in unpack(run, blob)]
        return {k: unpack(v, blob) for k, v in value.items()}
    if isinstance(value, list):
        return [unpack(v, blob) for v in value]
    return value
