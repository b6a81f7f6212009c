"""``mldp requeue`` / ``mldp release``: move FAILED or QUARANTINED files back to PENDING (attempts reset,
claimable at once); ``mldp retire``: give up on FAILED or QUARANTINED files, or PENDING ones when asked (RETIRED:
never claimed, out of the backlog and of the quarantine alarm). Each in one transaction, each change recorded in
the file's history with who, when and why. A file being processed is never moved."""

from __future__ import annotations

import datetime as dt
import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from runtime.db import operator_queries as q
from runtime.db.states import (
    OPERATOR_STATES,
    REQUEUABLE_STATES,
    REQUEUE_SELECTABLE_STATES,
    RETIRABLE_STATES,
    FileState,
)
from runtime.operator.formatting import count_of

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

__all__ = ["OPERATOR_STATES", "REQUEUABLE_STATES", "REQUEUE_SELECTABLE_STATES", "RETIRABLE_STATES", "RequeueResult",
           "Selection", "default_actor", "release", "render_result", "requeue", "retire"]


def default_actor() -> str:
    """Who is acting: ``$MLDP_ACTOR``, else the OS user."""
    return os.environ.get("MLDP_ACTOR") or getpass.getuser()


@dataclass(frozen=True)
class Selection:
    """Which files to move: FAILED / QUARANTINED by default (PENDING or RETIRED ones only when ``states`` names
    them; each command accepts its own states); every filter left ``None`` selects everything.

    ``since`` / ``until`` bound the time the file got its current state (its last outcome), ``until`` exclusive.
    ``limit`` caps how many files change (in ``file_id`` order, i.e. registration order).
    """

    states: Sequence[str] = REQUEUABLE_STATES
    keys: Sequence[str] | None = None
    prefix: str | None = None
    error_contains: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int | None = None

    def __post_init__(self) -> None:
        states = [str(s).upper() for s in self.states]
        bad = sorted(set(states) - set(OPERATOR_STATES))
        if bad or not states:
            raise ValueError(f"only {_or(REQUEUE_SELECTABLE_STATES)} files (and PENDING ones, to retire them) can be "
                             f"selected, not {_or(bad) if bad else 'none'}")
        object.__setattr__(self, "states", tuple(states))
        if self.limit is not None and self.limit <= 0:
            raise ValueError("--limit must be a positive number")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("--since must be before --until")

    def params(self) -> dict[str, Any]:
        """The query parameters of :data:`runtime.db.operator_queries.OPERATOR_SELECTION`."""
        return {"states": list(self.states), "keys": list(self.keys) if self.keys is not None else None,
                "prefix": self.prefix or None, "error_contains": self.error_contains or None,
                "since": self.since, "until": self.until, "limit": self.limit}


@dataclass
class RequeueResult:
    """What a requeue, release or retire changed (or, with ``dry_run``, would change)."""

    event: str
    dry_run: bool
    count: int
    keys: list[str]
    actor: str
    reason: str
    #: release only: keys that could not be released, with why (nothing was changed then).
    refused: dict[str, str] = field(default_factory=dict)
    #: dry run only: the current state and error of the first keys.
    preview: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (``--json``)."""
        return {"event": self.event, "dry_run": self.dry_run, "count": self.count, "keys": self.keys,
                "actor": self.actor, "reason": self.reason, "refused": self.refused, "preview": self.preview}


def requeue(conn: Connection, selection: Selection, reason: str, actor: str | None = None, dry_run: bool = False,
            show: int = 20) -> RequeueResult:
    """Move the files of ``selection`` to PENDING in one transaction and record a ``REQUEUED`` history row for each
    (their state and error before the change, ``actor``, ``reason``). With ``dry_run`` nothing changes: the
    result counts the files that would and shows the first ``show`` of them as they are now. Only FAILED,
    QUARANTINED or RETIRED files can be requeued (a ``ValueError`` otherwise)."""
    _check_states(selection, REQUEUE_SELECTABLE_STATES, "requeued")
    return _move(conn, selection, "REQUEUED", reason, actor, dry_run, show)


def retire(conn: Connection, selection: Selection, reason: str, actor: str | None = None, dry_run: bool = False,
           show: int = 20) -> RequeueResult:
    """Retire the files of ``selection`` (PENDING, FAILED or QUARANTINED; a ``ValueError`` for any other state) in
    one transaction: RETIRED, never claimed, out of the backlog and of ``QuarantinedFilesTotal``, their error and
    attempts kept. A file a processor claims meanwhile is not retired (it is PROCESSING once the claim commits;
    still PENDING, and retired, if the claim rolls back). A ``RETIRED`` history row records the state and error
    each had, ``actor`` and ``reason``. A new version of a retired key is registered as PENDING; ``requeue`` with
    ``states=("RETIRED",)`` undoes it (a retired PENDING file comes back PENDING). ``dry_run`` as for
    :func:`requeue`."""
    _check_states(selection, RETIRABLE_STATES, "retired")
    return _move(conn, selection, "RETIRED", reason, actor, dry_run, show, target=FileState.RETIRED)


def release(conn: Connection, keys: Sequence[str], reason: str, actor: str | None = None,
            dry_run: bool = False) -> RequeueResult:
    """Move the given files (each FAILED or QUARANTINED) to PENDING, recorded as ``RELEASED``. All or nothing: if
    a key is unknown or in another state, nothing changes and ``refused`` says why."""
    wanted = list(dict.fromkeys(k for k in keys if k))
    if not wanted:
        raise ValueError("give at least one key to release")
    _check_reason(reason)
    with conn.cursor() as cur:
        cur.execute(q.KEY_STATES, {"keys": wanted})
        states = cur.fetchall()
    conn.commit()
    refused = {key: "not tracked" if state is None else
               "is RETIRED (mldp requeue --state RETIRED --prefix KEY brings it back)" if state == FileState.RETIRED
               else f"is {state}"
               for key, state in states if state not in REQUEUABLE_STATES}
    if refused:
        return RequeueResult("RELEASED", dry_run, 0, [], actor or default_actor(), reason.strip(), refused=refused)
    return _move(conn, Selection(keys=wanted), "RELEASED", reason, actor, dry_run, len(wanted), expected=len(wanted))


def _check_states(selection: Selection, allowed: Sequence[str], verb: str) -> None:
    """Refuse a selection of a state the command may not move (``verb``: "requeued", "retired")."""
    refused = sorted(set(selection.states) - set(allowed))
    if refused:
        raise ValueError(f"only {_or(allowed)} files can be {verb}, not {_or(refused)}")


def _or(states: Sequence[str]) -> str:
    """``FAILED``, ``FAILED or QUARANTINED``, ``PENDING, FAILED or QUARANTINED``."""
    names = [str(s) for s in states]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _check_reason(reason: str | None) -> None:
    if not reason or not reason.strip():
        raise ValueError("--reason is required: say why these files change state")


def _move(conn: Connection, selection: Selection, event: str, reason: str, actor: str | None, dry_run: bool, show: int,
          expected: int | None = None, target: FileState = FileState.PENDING) -> RequeueResult:
    """Run the selection's dry run or change (to ``target``). With ``expected``, the change is committed only if
    exactly that many files moved (a processor may take one between a check and the change); otherwise nothing is
    changed."""
    _check_reason(reason)
    actor = actor or default_actor()
    params = {**selection.params(), "show": show, "event": event, "actor": actor, "reason": reason.strip(),
              "target": str(target)}
    try:
        with conn.cursor() as cur:
            if dry_run:
                cur.execute(q.REQUEUE_COUNT, params)
                count = cur.fetchone()[0]
                cur.execute(q.REQUEUE_SAMPLE, params)
                preview = [{"key": k, "state": s, "error": e} for k, s, e in cur.fetchall()]
                conn.rollback()
                return RequeueResult(event, True, count, [p["key"] for p in preview], actor, params["reason"],
                                     preview=preview)
            cur.execute(q.REQUEUE, params)
            count, keys = cur.fetchone()
        if expected is not None and count != expected:
            conn.rollback()
            missing = sorted(set(selection.keys or ()) - set(keys))
            return RequeueResult(event, False, 0, [], actor, params["reason"],
                                 refused={k: "changed state meanwhile; run the command again" for k in missing})
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    return RequeueResult(event, False, count, list(keys), actor, params["reason"])


def render_result(result: RequeueResult, show: int = 20) -> str:
    """The text a terminal shows for ``result``."""
    verb = {"REQUEUED": "requeued", "RELEASED": "released"}.get(result.event, result.event.lower())
    retiring = result.event == "RETIRED"
    if result.refused and not result.count:
        lines = [f"nothing {verb}: only FAILED or QUARANTINED files can be {verb}, all or none"]
        lines += [f"  {key}: {why}" for key, why in result.refused.items()]
        return "\n".join(lines)
    if result.dry_run:
        head = (f"dry run: {count_of(result.count, 'file')} would be {verb} (-> {'RETIRED' if retiring else 'PENDING'})"
                "; nothing was changed")
        body = [f"  {p['state']:<11} {p['key']}\n              {p['error'] or '-'}" for p in result.preview[:show]]
    else:
        change = "-> RETIRED (never claimed; error kept" if retiring else "-> PENDING (attempts reset"
        head = (f"{verb} {count_of(result.count, 'file')} {change}; recorded as {result.event} by {result.actor}: "
                f"{result.reason})")
        body = [f"  {key}" for key in result.keys[:show]]
    more = result.count - min(len(result.keys), show)
    if more > 0:
        body.append(f"  ... and {more:,} more")
    return "\n".join([head, *body])
