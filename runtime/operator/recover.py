"""``mldp recover BATCH``: the operator recovers a named batch whose owner is gone, fenced and recorded.

The batch must be open (CLAIMED). It is recovered only when nobody may still be working on it: its lease expired,
its run handed it back, its owner is provably gone (:class:`runtime.jobs.owner.OwnerProbe`), or it was held for
the operator after failed recoveries. A batch whose owner may be alive is refused unless ``force``: taking it over
then fences the owner off (its lease check before publishing and its commit fail; it publishes nothing).

The batch is taken over in one compare-and-set statement under an operator run id (``operator:<actor>:<hex>``),
and one ``RECOVER`` history row per file records who (``actor``) and why (``reason``). Then, without a store, it is
handed back: the next processor run recovers it at once (rolls it forward if it has a manifest, else abandons it
and retries its files). With a store it is recovered right here, the way a processor run would.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from platform_contract import defaults
from runtime.db.tracking import TrackingStore
from runtime.jobs.owner import OwnerProbe, current_owner, recoverability
from runtime.operator.requeue import default_actor

if TYPE_CHECKING:
    from psycopg2.extensions import connection as Connection

    from runtime.layout import Layout
    from runtime.storage.base import ObjectStore

_BATCH_REF = re.compile(r"^[0-9a-fA-F-]{8,36}$")


@dataclass
class RecoverResult:
    """What ``mldp recover`` did (``refused``: nothing changed, and why)."""

    batch_id: str
    actor: str
    reason: str
    owner: str | None = None
    why: str | None = None
    forced: bool = False
    #: handed back (the next processor run recovers it), rolled forward, abandoned; None when refused
    action: str | None = None
    files: int = 0
    refused: str | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        return asdict(self)


def recover(conn: Connection, batch_ref: str, reason: str, actor: str | None = None, force: bool = False,
            store: ObjectStore | None = None, layout: Layout | None = None,
            probe: OwnerProbe | None = None) -> RecoverResult:
    """Recover the open batch ``batch_ref`` (its id or the first 8+ characters of it); see the module docstring.
    A result with ``refused`` set changed nothing; one with ``error`` set could not be recovered here (the failure
    is counted on the batch, which is left to the next processor run)."""
    actor = actor or default_actor()
    result = RecoverResult(batch_id=batch_ref, actor=actor, reason=reason)
    run_id = f"operator:{actor}:{uuid.uuid4().hex[:8]}"
    tracking = TrackingStore(conn, current_owner(run_id))
    batch_id = _resolve(tracking, batch_ref, result)
    if batch_id is None:
        return result
    result.batch_id = batch_id
    [batch] = tracking.open_batches(batch_id) or [None]
    if batch is None:
        result.refused = f"batch {batch_id} is not open (already committed or abandoned): nothing to recover"
        return result
    result.owner = batch.owner.describe()
    verdict = recoverability(batch, probe or OwnerProbe(), held_is_recoverable=True)
    result.why = verdict.why
    if not verdict.gone and not force:
        result.refused = (f"batch {batch_id} may still be running: {verdict.why}. Nothing changed; --force takes it "
                          "over anyway (its owner then stops before publishing)")
        return result
    result.forced = not verdict.gone
    if not tracking.take_over(batch, run_id, defaults.LEASE_SECONDS, owner_gone=True, allow_held=True):
        result.refused = f"batch {batch_id} changed meanwhile (another run took it over or finished it): try again"
        return result
    note = f"{reason} (forced: {verdict.why})" if result.forced else reason
    result.files = tracking.record_operator_recovery(batch_id, actor, note)
    if store is None:
        tracking.hand_back(batch_id, run_id, f"recovered by {actor}: {note}", released_by=actor)
        result.action = "handed back"
        return result
    _recover_here(conn, tracking, store, layout, run_id, batch_id, result)
    return result


def _resolve(tracking: TrackingStore, batch_ref: str, result: RecoverResult) -> str | None:
    ref = batch_ref.strip().lower()
    if not _BATCH_REF.match(ref):
        result.refused = f"{batch_ref!r} is not a batch id (give it whole, or its first 8 characters or more)"
        return None
    found = tracking.batch_ids_like(ref)
    if len(found) != 1:
        result.refused = (f"no batch id starts with {batch_ref!r}" if not found
                          else f"{batch_ref!r} names more than one batch: give more of its id")
        return None
    return found[0]


def _recover_here(conn: Connection, tracking: TrackingStore, store: ObjectStore, layout: Layout | None, run_id: str,
                  batch_id: str, result: RecoverResult) -> None:
    """Roll the batch forward or abandon it with the processor's own steps (no Spark: both only publish, record,
    archive and clean); a failure is counted on the batch and leaves it to the next processor run."""
    from runtime.jobs.processor import BatchProcessor
    from runtime.jobs.recovery import MAX_RECOVERY_TRIES
    from runtime.jobs.settings import ProcessorSettings

    def no_spark() -> Any:
        raise RuntimeError("recovering a batch never starts Spark")

    processor = BatchProcessor(store, conn, no_spark, None, ProcessorSettings(job_run_id=run_id),  # type: ignore[arg-type]
                               layout)
    try:
        report = processor.recovery().recover_batch(batch_id)
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {(str(exc).splitlines() or [''])[0][:500]}"
        tracking.record_recovery_failure(batch_id, run_id, result.error, MAX_RECOVERY_TRIES)
        return
    result.action = "abandoned" if report is None or report.abandoned else "rolled forward"


def render_result(result: RecoverResult) -> str:
    """The text of a ``mldp recover`` result."""
    if result.refused:
        return f"nothing recovered: {result.refused}"
    head = f"batch {result.batch_id} of {result.owner}: {result.why}"
    if result.error:
        return (f"{head}\nrecovery failed: {result.error}\n(counted on the batch; the next processor run tries "
                "again, and it is held for the operator after repeated failures)")
    what = {"handed back": "handed back: the next processor run recovers it at once",
            "rolled forward": "rolled forward: published, recorded and archived",
            "abandoned": "abandoned: its staging was incomplete; its files are FAILED and retried"}[result.action or ""]
    forced = " (forced)" if result.forced else ""
    return (f"{head}\n{what}{forced}; {result.files} files recorded as RECOVER by {result.actor}: {result.reason}")
