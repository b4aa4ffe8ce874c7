"""Opens, clicks, document views and unsubscribes: from a tracking hit to an event with a verdict.

The web layer checks the token (no database), spools the hit (spool.py) and answers. Writing
happens in `write_hits`, batch by batch, in the order hits arrived: it finds the message,
classifies each hit with the message's history (classify.py), keeps every raw hit, marks
repeats, adds an inferred open when a person clicked a message whose images were blocked, and
refuses a hit id it already wrote (exactly once).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import itertools
import json
import logging
import os
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii
from typing import Any, NamedTuple, Protocol

from sqlalchemy import (
    CompoundSelect,
    Integer,
    Select,
    String,
    Subquery,
    any_,
    bindparam,
    exists,
    func,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from ..enrollment import mark_prospect, record, stop_prospect
from ..models import (
    Document,
    EnrollmentStatus,
    Event,
    Link,
    Message,
    Prospect,
    ProspectStatus,
    Webhook,
)
from .tokens import TokenData, read_token
from .verdicts import (
    HUMAN,
    INFERRED,
    MACHINE,
    SCANNER,
    Hit,
    InContext,
    Prior,
    Rules,
    classify_in_context,
)
from .verdicts import rules as default_rules

log = logging.getLogger(__name__)

KIND_LETTERS = {"open": "o", "click": "c", "document": "d"}
HISTORY_PER_MESSAGE = 20
COLUMNS = (
    "type",
    "at",
    "prospect_id",
    "enrollment_id",
    "message_id",
    "data",
    "verdict",
    "reason",
    "ip",
    "user_agent",
    "hit_id",
)
DOCUMENT_SCHEME = "document:"


def truncate_ip(ip: str | None) -> str | None:
    """Drop the host part (IPv4 /24, IPv6 /48) for privacy."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


@dataclass(frozen=True)
class Request:
    method: str
    ip: str | None
    user_agent: str


@functools.lru_cache(maxsize=4096)
def _clean_ip(ip: str | None, truncate: bool) -> str | None:
    if not ip:
        return None
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        return None
    return truncate_ip(ip) if truncate else ip


class _HitIds:
    """Unique 32-hex-digit hit ids: a random per-process prefix and a counter (no syscall per hit)."""

    def __init__(self) -> None:
        self._pid = 0
        self._prefix = ""
        self._counter = itertools.count()

    def next(self) -> str:
        if self._pid != os.getpid():  # a forked child must not repeat its parent's ids
            self._pid, self._prefix = os.getpid(), secrets.token_hex(10)
            self._counter = itertools.count()
        return f"{self._prefix}{next(self._counter):012x}"


_hit_ids = _HitIds()


def make_hit(
    kind: str,
    token: str,
    req: Request,
    now: datetime,
    *,
    truncate: bool = False,
    url: str | None = None,
) -> dict[str, Any]:
    """The spool record for one hit: everything the writer needs, with a unique id."""
    record_: dict[str, Any] = {
        "id": _hit_ids.next(),
        "kind": kind,
        "token": token,
        "at": now.isoformat(),
        "method": req.method[:10],
        "ip": _clean_ip(req.ip, truncate),
        "ua": req.user_agent[:1000],
    }
    if url is not None:
        record_["url"] = url
    return record_


# The encoder json uses for every string when ensure_ascii=True (the C one when available).
_string = encode_basestring_ascii


def hit_line(
    kind: str,
    token: str,
    now: datetime,
    *,
    method: str,
    ip: str | None,
    user_agent: str,
    truncate: bool = False,
    url: str | None = None,
) -> bytes:
    """The spool line of one hit: the bytes `Spool.append(make_hit(...))` writes, built directly.

    The pixel's hot path: formatting the few fields into the line costs a fraction of building
    the dict and encoding it with json (tests assert the bytes are the same for any input).
    """
    clean = _clean_ip(ip, truncate)
    line = (
        f'{{"id":"{_hit_ids.next()}","kind":{_string(kind)},"token":{_string(token)},'
        f'"at":{_string(now.isoformat())},"method":{_string(method[:10])},'
        f'"ip":{"null" if clean is None else _string(clean)},"ua":{_string(user_agent[:1000])}'
    )
    if url is not None:
        line += f',"url":{_string(url)}'
    return (line + "}\n").encode("ascii")


# -- reading what was stored at send time ---------------------------------------------------


def message_for(
    session: Session, keys: tuple[str, ...], token: str, kind: str
) -> tuple[Message, int] | None:
    data = read_token(keys, token, kind)
    if data is None:
        return None
    message = session.scalar(select(Message).where(Message.token_id == data.token_id))
    return None if message is None else (message, data.position)


def stored_destination(session: Session, data: TokenData) -> str | None:
    """The URL of this message's link, as stored at send time."""
    return session.scalar(
        select(Link.url)
        .join(Message, Message.id == Link.message_id)
        .where(Message.token_id == data.token_id, Link.position == data.position)
    )


def document_for(
    session: Session, keys: tuple[str, ...], token: str
) -> tuple[Message, Document] | None:
    """The message and the document behind a /d/<token> link, or None."""
    found = message_for(session, keys, token, "d")
    if found is None:
        return None
    message, position = found
    url = session.scalar(
        select(Link.url).where(Link.message_id == message.id, Link.position == position)
    )
    if url is None or not url.startswith(DOCUMENT_SCHEME):
        return None
    try:
        document_id = int(url[len(DOCUMENT_SCHEME) :])
    except ValueError:
        return None
    document = session.get(Document, document_id)
    if document is None or message.prospect_id is None:
        return None
    prospect = session.get(Prospect, message.prospect_id)
    if prospect is None or prospect.team_id != document.team_id:
        return None  # a document is only ever served to the team that owns it
    return message, document


# -- writing spooled hits ------------------------------------------------------------------


@dataclass
class _Parsed:
    record: dict[str, Any]
    kind: str
    data: TokenData
    at: datetime
    hit_id: str


def _parse(keys: tuple[str, ...], records: Iterable[dict[str, Any]]) -> list[_Parsed]:
    out: list[_Parsed] = []
    for rec in records:
        kind = rec.get("kind")
        letter = KIND_LETTERS.get(kind) if isinstance(kind, str) else None
        token = rec.get("token")
        if letter is None or not isinstance(token, str) or not isinstance(rec.get("id"), str):
            continue
        data = read_token(keys, token, letter)
        try:
            at = datetime.fromisoformat(str(rec["at"]))
        except (KeyError, ValueError):
            continue
        if data is None or at.tzinfo is None:
            continue
        out.append(_Parsed(rec, str(kind), data, at, str(rec["id"])[:32]))
    return out


Row = dict[str, Any]  # an event of this batch, or (with "id") a stored one it may relabel


class _Sent(Protocol):
    """What an event needs of its message (a Message, or the columns the writer selects)."""

    @property
    def id(self) -> int: ...
    @property
    def prospect_id(self) -> int | None: ...
    @property
    def enrollment_id(self) -> int | None: ...


class _Message(NamedTuple):
    id: int
    prospect_id: int | None
    enrollment_id: int | None
    sent_at: datetime | None


class _Link(NamedTuple):
    message_id: int
    position: int
    url: str
    hidden: bool


def _prior(row: Any, links: dict[tuple[int, int], _Link]) -> Prior:
    """A stored open or click as context. Its `data` is not read whole (parsing every history
    row's JSON was a good part of the writer's time): only the keys the rules need, and the
    whole of it later for the rare row a burst relabels."""
    position = row.link if isinstance(row.link, int) else None
    link = links.get((row.message_id or 0, position)) if position is not None else None
    ref: Row = {
        "id": row.id,
        "verdict": row.verdict,
        "reason": row.reason,
        "data": {"hit": row.hit} if row.hit is not None else {},
        "hit_id": row.hit_id,
    }
    return Prior(
        kind=row.type,
        at=row.at,
        verdict=row.verdict,
        position=position,
        ip=row.ip,
        hidden=bool(link and link.hidden),
        repeat=bool(row.repeat),
        ref=ref,
    )


def _relabel(ref: Row, why: str) -> None:
    patch = {"why": why, "relabelled": True}
    data = {**(ref.get("data") or {}), **patch}
    ref.update(verdict=MACHINE, reason=SCANNER, data=data, relabelled=True)
    ref.setdefault("patch", {}).update(patch)  # what a stored row's data gets


def _update_relabelled(session: Session, kept: list[Row]) -> None:
    """Write the verdicts a burst changed on stored rows, adding the patch to their data."""
    changed = {ref["id"]: ref for ref in kept if ref.get("relabelled")}
    if not changed:
        return
    stored = session.execute(select(Event.id, Event.data).where(Event.id.in_(changed)))
    for event_id, data in stored:
        ref = changed[event_id]
        session.execute(
            update(Event)
            .where(Event.id == event_id)
            .values(
                verdict=ref["verdict"], reason=ref["reason"], data={**(data or {}), **ref["patch"]}
            )
        )


def _webhooks_listening(session: Session) -> bool:
    """Whether any active webhook wants tracking events (they need record()'s outbox rows)."""
    wanted = {"open", "click", "document_viewed"}
    return any(
        wanted.intersection(events or ())
        for events in session.scalars(select(Webhook.events).where(Webhook.active.is_(True)))
    )


def _store(session: Session, rows: list[Row]) -> None:
    """Insert the batch: one statement, or event by event through record() for webhooks."""
    if not rows:
        return
    if not _webhooks_listening(session):
        if session.get_bind().dialect.name == "postgresql":
            _copy(session, rows)
        else:
            _insert_many(session, rows)
        return
    for row in rows:
        event = record(
            session,
            row["type"],
            row["at"],
            prospect_id=row["prospect_id"],
            enrollment_id=row["enrollment_id"],
            message_id=row["message_id"],
            extra=row["data"],
        )
        event.verdict, event.reason = row["verdict"], row["reason"]
        event.ip, event.user_agent, event.hit_id = row["ip"], row["user_agent"], row["hit_id"]


_COPY_EVENTS = f"COPY events ({', '.join(COLUMNS)}) FROM STDIN"
_INSERT_EVENTS = (
    f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
)


def _insert_many(session: Session, rows: list[Row]) -> None:
    """SQLite: the batch in one executemany of plain tuples, in the session's transaction.

    The ORM's bulk insert built and type-processed every row's parameters in Python, which cost
    the drainer more than SQLite's own insert did. The values are the ones the column types
    store (UTCDateTime: naive UTC as SQLite's DATETIME text; JSON: json.dumps), which a test
    compares with the ORM's. A hit id already stored raises the same IntegrityError.
    """
    session.connection().exec_driver_sql(
        _INSERT_EVENTS,
        [
            (
                row["type"],
                row["at"].astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds"),
                row["prospect_id"],
                row["enrollment_id"],
                row["message_id"],
                json.dumps(row["data"]),
                row["verdict"],
                row["reason"],
                row["ip"],
                row["user_agent"],
                row["hit_id"],
            )
            for row in rows
        ],
    )


def _copy(session: Session, rows: list[Row]) -> None:
    """PostgreSQL: write the batch with COPY, in the session's transaction.

    A multi-row INSERT costs the server a parse and plan and the client a bind parameter per
    value; COPY streams rows, and is several times cheaper per event on both sides. It is all
    or nothing like the INSERT: a hit id already stored (see write_hits' `seen`) fails the whole
    batch with the same IntegrityError, and spool_writer's row-by-row retry takes over.
    """
    connection = session.connection()
    driver = connection.connection.driver_connection
    assert driver is not None
    dbapi = connection.dialect.loaded_dbapi
    try:
        with driver.cursor() as cursor, cursor.copy(_COPY_EVENTS) as copy:
            for row in rows:
                copy.write_row(
                    (
                        row["type"],
                        row["at"].astimezone(UTC).replace(tzinfo=None),  # as UTCDateTime stores it
                        row["prospect_id"],
                        row["enrollment_id"],
                        row["message_id"],
                        json.dumps(row["data"]),
                        row["verdict"],
                        row["reason"],
                        row["ip"],
                        row["user_agent"],
                        row["hit_id"],
                    )
                )
    except dbapi.IntegrityError as exc:
        raise IntegrityError(_COPY_EVENTS, None, exc) from exc


_HISTORY_COLUMNS = (
    Event.id,
    Event.message_id,
    Event.type,
    Event.at,
    Event.verdict,
    Event.reason,
    Event.ip,
    Event.hit_id,
    Event.data["link"].as_integer().label("link"),
    Event.data["repeat"].as_boolean().label("repeat"),
    Event.data["hit"].as_string().label("hit"),
)


def _recent_hits(session: Session, ids: list[int], since: datetime) -> Subquery:
    """The latest opens and clicks of each message since `since`, at most HISTORY_PER_MESSAGE,
    ranked newest first: enough for bursts and repeats, and bounded, so a flood of hits on one
    message cannot slow the writer down."""
    candidates: Select[Any] | CompoundSelect[Any]
    if session.get_bind().dialect.name == "postgresql":
        # The newest few of each (message, type) by a short backward scan of
        # ix_events_message_type_at each, however many hits the messages have in the window.
        message = (
            func.unnest(bindparam("ids", ids, type_=postgresql.ARRAY(Integer)))
            .table_valued("id")
            .render_derived()
        )
        kinds = []
        for kind in ("open", "click"):
            latest = (
                select(*_HISTORY_COLUMNS)
                .where(Event.message_id == message.c.id, Event.type == kind, Event.at >= since)
                .order_by(Event.at.desc(), Event.id.desc())
                .limit(HISTORY_PER_MESSAGE)
                .lateral()
            )
            kinds.append(select(latest).select_from(message).join(latest, true()))
        candidates = union_all(*kinds)
    else:
        # SQLite has no LATERAL: the same newest few of each (message, type), as a correlated
        # list of ids per message, each read by a short backward scan of the index. Reading
        # every hit in the window instead made each batch slower as a message's hits grew.
        message = func.json_each(json.dumps(ids)).table_valued("value")
        newer = aliased(Event)
        kinds = []
        for kind in ("open", "click"):
            newest = (
                select(newer.id)
                .where(newer.message_id == message.c.value, newer.type == kind, newer.at >= since)
                .order_by(newer.at.desc(), newer.id.desc())
                .limit(HISTORY_PER_MESSAGE)
            )
            kinds.append(
                select(*_HISTORY_COLUMNS).select_from(message).join(Event, Event.id.in_(newest))
            )
        candidates = union_all(*kinds)
    hits = candidates.subquery()
    return select(
        hits,
        func.row_number()
        .over(partition_by=hits.c.message_id, order_by=(hits.c.at.desc(), hits.c.id.desc()))
        .label("rank"),
    ).subquery()


def write_hits(
    session: Session,
    keys: tuple[str, ...],
    records: list[dict[str, Any]],
    r: Rules | None = None,
) -> int:
    """Turn spooled hits into events (the caller commits). Returns how many events were added."""
    r = r or default_rules()
    parsed = _parse(keys, records)
    if not parsed:
        return 0
    batch = _load_batch(session, parsed, r)
    for p in parsed:
        _write_hit(session, batch, p, r)
    _store(session, batch.rows)
    _update_relabelled(session, batch.kept)
    return len(batch.rows)


@dataclass
class _Batch:
    """What a batch of hits is judged against, read in a few queries, and what it writes."""

    seen: set[str | None]  # hit ids already stored, or met earlier in this batch
    messages: dict[str, _Message]  # by token id
    links: dict[tuple[int, int], _Link]  # by (message id, position)
    opened_before: set[int]  # clicked messages a person had opened before this batch
    visible: dict[int, int]  # per message, how many links a person can see
    history: dict[int, list[Prior]]  # per message, its recent opens and clicks
    kept: list[Row]  # stored events of the history (they may be relabelled)
    human_opened: dict[int, bool] = field(default_factory=dict)
    documents: dict[int, Document | None] = field(default_factory=dict)
    rows: list[Row] = field(default_factory=list)  # the events to add


def _stored(session: Session, parsed: list[_Parsed]) -> Any:
    """Which of the batch's hit ids are stored: their list bound as one parameter (an array, a
    JSON text), not as one bound parameter per hit, whose expansion and binding cost the
    drainer a few microseconds per hit."""
    hit_ids = [p.hit_id for p in parsed]
    if session.get_bind().dialect.name == "postgresql":
        return Event.hit_id == any_(bindparam("hit_ids", hit_ids, type_=postgresql.ARRAY(String)))
    given = func.json_each(json.dumps(hit_ids)).table_valued("value")
    return Event.hit_id.in_(select(given.c.value))


def _load_batch(session: Session, parsed: list[_Parsed], r: Rules) -> _Batch:
    seen = set(session.scalars(select(Event.hit_id).where(_stored(session, parsed))))
    token_ids = {p.data.token_id for p in parsed}
    # Columns, not ORM objects: a batch needs a few values of each and never changes them.
    messages = {
        token_id: _Message(id_, prospect_id, enrollment_id, sent_at)
        for token_id, id_, prospect_id, enrollment_id, sent_at in session.execute(
            select(
                Message.token_id,
                Message.id,
                Message.prospect_id,
                Message.enrollment_id,
                Message.sent_at,
            ).where(Message.token_id.in_(token_ids))
        )
    }
    ids = [m.id for m in messages.values()]
    links = {
        (link.message_id, link.position): link
        for link in map(
            _Link._make,
            session.execute(
                select(Link.message_id, Link.position, Link.url, Link.hidden).where(
                    Link.message_id.in_(ids)
                )
            ),
        )
    }
    visible: dict[int, int] = defaultdict(int)
    for stored in links.values():
        if not stored.hidden and stored.url.startswith(("http://", "https://")):
            visible[stored.message_id] += 1
    history, kept = _history(session, ids, links, min(p.at for p in parsed) - r.context_window)
    return _Batch(
        seen=seen,
        messages=messages,
        links=links,
        opened_before=_opened_before(session, parsed, messages),
        visible=visible,
        history=history,
        kept=kept,
    )


def _opened_before(
    session: Session, parsed: list[_Parsed], messages: dict[str, _Message]
) -> set[int]:
    """Whether a person opened each clicked message before this batch, in one query: a human
    click on a message without one infers an open."""
    clicked = {
        messages[p.data.token_id].id
        for p in parsed
        if p.kind != "open" and p.data.token_id in messages
    }
    if not clicked:
        return set()
    return set(
        session.scalars(
            select(Message.id).where(
                Message.id.in_(clicked),
                exists().where(
                    Event.message_id == Message.id,
                    Event.type == "open",
                    Event.verdict == HUMAN,
                ),
            )
        )
    )


def _history(
    session: Session, ids: list[int], links: dict[tuple[int, int], _Link], since: datetime
) -> tuple[dict[int, list[Prior]], list[Row]]:
    """The latest stored opens and clicks of each message since `since`, oldest first."""
    recent = _recent_hits(session, ids, since)
    history: dict[int, list[Prior]] = defaultdict(list)
    kept: list[Row] = []
    for found in session.execute(
        select(recent)
        .where(recent.c.rank <= HISTORY_PER_MESSAGE)
        .order_by(recent.c.at, recent.c.id)
    ):
        prior = _prior(found, links)
        history[found.message_id or 0].append(prior)
        kept.append(prior.ref)
    return history, kept


def _write_hit(session: Session, batch: _Batch, p: _Parsed, r: Rules) -> None:
    """Judge one hit against its message's history and add its event (and an inferred open)."""
    if p.hit_id in batch.seen:
        return  # written by an earlier drain that stopped before moving its offset
    batch.seen.add(p.hit_id)
    message = batch.messages.get(p.data.token_id)
    if message is None:
        log.info("tracking: hit for an unknown message dropped")
        return
    rec = p.record
    link = batch.links.get((message.id, p.data.position))
    since = p.at - message.sent_at if message.sent_at else None
    kind = "click" if p.kind == "document" else p.kind
    hit = Hit(
        kind,
        str(rec.get("method") or "GET"),
        str(rec.get("ua") or ""),
        rec.get("ip") if isinstance(rec.get("ip"), str) else None,
        since,
        hidden_link=bool(link and link.hidden) if kind == "click" else False,
    )
    position = p.data.position if p.kind == "click" else None
    past = batch.history[message.id]
    # The latest hits only, as if the earlier ones of this batch were stored already: a
    # verdict does not depend on how hits were batched, and a flood stays cheap to judge.
    del past[:-HISTORY_PER_MESSAGE]
    judged = classify_in_context(hit, p.at, position, past, batch.visible[message.id], r)
    row = _event_row(session, batch, p, message, link, hit, judged)
    batch.rows.append(row)
    _relabel_earlier(batch, message, past, judged)
    past.append(
        Prior(
            kind=p.kind if p.kind != "document" else "document",
            at=p.at,
            verdict=row["verdict"],
            position=position,
            ip=hit.ip,
            hidden=hit.hidden_link,
            repeat=judged.repeat,
            ref=row,
        )
    )
    if row["verdict"] == HUMAN:
        _note_human(batch, p, message, past)


def _event_row(
    session: Session,
    batch: _Batch,
    p: _Parsed,
    message: _Message,
    link: _Link | None,
    hit: Hit,
    judged: InContext,
) -> Row:
    """The event of a judged hit, with what a rep reads about it (the link, the document)."""
    rec = p.record
    extra: dict[str, Any] = {}
    if p.kind == "click":
        extra = {"url": link.url if link else rec.get("url"), "link": p.data.position}
    elif p.kind == "document":
        document_id = _document_id(link)
        if document_id is not None and document_id not in batch.documents:
            batch.documents[document_id] = session.get(Document, document_id)
        document = batch.documents.get(document_id) if document_id is not None else None
        extra = {"link": p.data.position, "document_id": document_id}
        extra["name"] = document.name if document else None
    if judged.verdict.why:
        extra["why"] = judged.verdict.why
    if judged.repeat:
        extra["repeat"] = True
    return {
        "type": "document_viewed" if p.kind == "document" else p.kind,
        "at": p.at,
        "prospect_id": message.prospect_id,
        "enrollment_id": message.enrollment_id,
        "message_id": message.id,
        "data": extra,
        "verdict": judged.verdict.verdict,
        "reason": judged.verdict.reason,
        "ip": hit.ip,
        "user_agent": hit.user_agent,
        "hit_id": p.hit_id,
    }


def _relabel_earlier(
    batch: _Batch, message: _Message, past: list[Prior], judged: InContext
) -> None:
    """Earlier hits this one shows were a scanner's become machine, with the opens inferred
    from them."""
    relabelled_hits = set()
    for earlier in judged.relabel:
        _relabel(earlier, judged.verdict.why)
        relabelled_hits.add(earlier.get("hit_id"))
    if not relabelled_hits:
        return
    # Opens we inferred from those clicks were the scanner's too.
    for prior in past:
        e = prior.ref
        if (
            e is not None
            and e.get("reason") == INFERRED
            and (e.get("data") or {}).get("hit") in relabelled_hits
        ):
            _relabel(e, "inferred from a scanner's click")
            prior.verdict = MACHINE
    for prior in past:
        if prior.ref is not None and prior.ref.get("hit_id") in relabelled_hits:
            prior.verdict = MACHINE
    if not any(x.kind == "open" and x.verdict == HUMAN for x in past):
        batch.human_opened.pop(message.id, None)


def _note_human(batch: _Batch, p: _Parsed, message: _Message, past: list[Prior]) -> None:
    """A person's open is remembered; a person's click on an unopened message infers one."""
    if p.kind == "open":
        batch.human_opened[message.id] = True
    elif not batch.human_opened.setdefault(message.id, message.id in batch.opened_before):
        inferred = _inferred_row(message, p.at, p.kind, p.hit_id)
        batch.rows.append(inferred)
        batch.human_opened[message.id] = True
        past.append(Prior("open", p.at, HUMAN, ref=inferred))


def _document_id(link: _Link | None) -> int | None:
    if link is None or not link.url.startswith(DOCUMENT_SCHEME):
        return None
    try:
        return int(link.url[len(DOCUMENT_SCHEME) :])
    except ValueError:
        return None


def inferred_hit_id(hit_id: str) -> str:
    """The id of the open inferred from a hit: derived (so a re-drain cannot add a second one),
    distinct from every hit id ("i" is not a hex digit) and from every other hit's inferred id."""
    return "i" + hashlib.sha256(hit_id.encode()).hexdigest()[:31]


def _inferred_row(message: _Sent, at: datetime, via: str, hit_id: str | None) -> Row:
    return {
        "type": "open",
        "at": at,
        "prospect_id": message.prospect_id,
        "enrollment_id": message.enrollment_id,
        "message_id": message.id,
        "data": {"inferred_from": via, "hit": hit_id, "why": f"a person's {via}, images blocked"},
        "verdict": HUMAN,
        "reason": INFERRED,
        "ip": None,
        "user_agent": None,
        # Derived from its hit, so a re-drained hit cannot infer a second open.
        "hit_id": inferred_hit_id(hit_id) if hit_id else None,
    }


def infer_open(session: Session, message: Message, at: datetime, via: str = "reply") -> bool:
    """Record an inferred human open if the message has none (a reply proves it was read).

    For inbound code: call it when a reply to `message` arrives. Returns True if it added one.
    """
    exists = session.scalar(
        select(Event.id)
        .where(Event.message_id == message.id, Event.type == "open", Event.verdict == HUMAN)
        .limit(1)
    )
    if exists is not None:
        return False
    _store(session, [_inferred_row(message, at, via, None)])
    return True


def spool_writer(
    sessions: Callable[[], Session], keys: tuple[str, ...]
) -> Callable[[list[dict[str, Any]]], None]:
    """The spool's writer: one transaction per batch, committed before the offset moves."""

    def write(records: list[dict[str, Any]]) -> None:
        try:
            with sessions() as session:
                write_hits(session, keys, records)
                session.commit()
            return
        except IntegrityError:
            log.warning(
                "spool: a batch of %d hits was refused; writing them one by one", len(records)
            )
        # One hit the database refuses must never stall every hit behind it: write each alone,
        # and drop (with a log line) only a hit that is refused by itself.
        for record_ in records:
            try:
                with sessions() as session:
                    write_hits(session, keys, [record_])
                    session.commit()
            except IntegrityError as exc:
                log.error("spool: hit %s refused, dropped: %s", record_.get("id"), exc.orig)

    return write


# -- unsubscribe ----------------------------------------------------------------------------


def unsubscribe_target(session: Session, keys: tuple[str, ...], token: str) -> Message | None:
    found = message_for(session, keys, token, "u")
    return found[0] if found else None


def unsubscribe(session: Session, message: Message, now: datetime, via: str) -> None:
    """Suppress the address for good and stop every enrollment of the prospect."""
    if message.prospect_id is None:
        return
    prospect = session.get(Prospect, message.prospect_id)
    if prospect is None or prospect.status == ProspectStatus.UNSUBSCRIBED:
        return
    mark_prospect(session, prospect.id, ProspectStatus.UNSUBSCRIBED, now)
    record(
        session,
        "unsubscribe",
        now,
        prospect_id=prospect.id,
        enrollment_id=message.enrollment_id,
        message_id=message.id,
        via=via,
    )
    stop_prospect(session, prospect.id, EnrollmentStatus.UNSUBSCRIBED, now, f"unsubscribed ({via})")
