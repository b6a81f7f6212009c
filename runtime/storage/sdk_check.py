"""Is the loaded AWS SDK able to send the archive's conditional deletes? Checked once at the start of a run.

The archive deletes each moved raw file with ``DeleteObjects``, passing the ETag that was copied
(``Delete.Objects[].ETag``), so that an upload landing between the copy and the delete is kept. botocore
validates every request against its bundled S3 service model *before* sending it: a botocore whose model has no
``ETag`` member in the ``ObjectIdentifier`` shape (every release before :data:`MIN_BOTOCORE_VERSION`; the
member came with S3's conditional deletes) rejects the request client-side with ``ParamValidationError``. No
raw file would ever be deleted, and nothing but a warning would say so.

:func:`require_conditional_deletes` therefore asks the S3 client the run will use (its own service model, not a
version number: a vendored or patched botocore is judged by what it can send) and stops the run with
:class:`SdkTooOld`, a message that names the minimum version and how to fix it, before any work is claimed.
Python 3.9-compatible (nothing here is Spark-only).
"""

from __future__ import annotations

from typing import Any

from runtime.storage.base import ObjectStoreError

#: The first botocore release whose S3 model has ``ObjectIdentifier.ETag`` (found by bisecting the PyPI wheels'
#: ``data/s3/2006-03-01/service-2.json``: 1.35.66 lacks it, 1.35.67 has it). boto3 1.35.67 pins this botocore.
MIN_BOTOCORE_VERSION = "1.35.67"
#: The request shape and member the archive needs.
SHAPE, MEMBER = "ObjectIdentifier", "ETag"
_FIX = (f"install boto3/botocore >= {MIN_BOTOCORE_VERSION} for the job (Glue: the pinned wheels bundled with the "
        "job code, see docs/operations.md, 'The AWS SDK on Glue'), or run with archiving off")


class SdkTooOld(ObjectStoreError):
    """The loaded botocore cannot express the archive's conditional delete (its S3 model lacks
    ``ObjectIdentifier.ETag``): the run stops before claiming work; the message names the version to install."""

    exit_status = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        #: the sources a bulk delete left in place because of it (set by the mover), for the run's tally
        self.keys: list[str] = []
        #: set by the mover: the other sources of its call whose move had failed before the delete
        self.failed_moves: dict[str, str] = {}


def botocore_version() -> str:
    """The version of the botocore that is imported (``"unknown"`` when it cannot be told)."""
    try:
        import botocore

        return str(getattr(botocore, "__version__", "unknown"))
    except ImportError:  # pragma: no cover - boto3 is a dependency of the runtime
        return "unknown"


def supports_conditional_deletes(client: Any = None) -> bool:
    """Whether ``client``'s S3 service model (a new default client's when ``None``) accepts
    ``Delete.Objects[].ETag`` in ``DeleteObjects``."""
    from botocore.exceptions import BotoCoreError

    model = _service_model(client)
    try:
        operation = model.operation_model("DeleteObjects")
        objects = operation.input_shape.members["Delete"].members["Objects"]
        return MEMBER in objects.member.members
    except (LookupError, AttributeError, BotoCoreError):  # no such operation or shape: it cannot be sent either
        return False


def require_conditional_deletes(client: Any = None) -> None:
    """Raise :class:`SdkTooOld` unless ``client`` (see :func:`supports_conditional_deletes`) can send conditional
    deletes."""
    if not supports_conditional_deletes(client):
        raise SdkTooOld(
            f"the loaded botocore {botocore_version()} cannot send conditional deletes (its S3 model has no "
            f"{SHAPE}.{MEMBER} in DeleteObjects): the archive would never delete a raw file; {_FIX}"
        )


def check_store(store: Any, archive: bool = True) -> None:
    """:func:`require_conditional_deletes` for an S3 store that archives (any other store, or ``archive=False``,
    needs nothing)."""
    if archive and str(getattr(store, "url", "")).startswith("s3://"):
        require_conditional_deletes(store.client)


def parameter_rejected(err: BaseException) -> SdkTooOld:
    """The :class:`SdkTooOld` of a ``ParamValidationError`` raised by a ``DeleteObjects`` call (a run that
    skipped the start-up check)."""
    reason = " ".join(str(err).split())  # one line: botocore lists each rejected object on a line of its own
    return SdkTooOld(f"DeleteObjects rejected by the loaded botocore {botocore_version()} before sending "
                     f"({reason[:300]}); {_FIX}")


def _service_model(client: Any) -> Any:
    if client is not None:
        return client.meta.service_model
    import botocore.session

    return botocore.session.get_session().get_service_model("s3")
