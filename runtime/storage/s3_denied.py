"""What an S3 403 means, in one line: the operation, the IAM (or KMS) action, the resource, and why it was refused.

S3 answers 403, not 404, for a missing key to a caller without ``s3:ListBucket``, and names a KMS action when the
object's key refused; :func:`access_denied` turns each into a :class:`~runtime.storage.base.StoragePermissionError`
that says what to grant.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from runtime.storage.base import StoragePermissionError

_KMS_ACTION = re.compile(r"\bkms:[A-Za-z]+")


def access_denied(arn: Callable[..., str], operation: str, message: str, action: str, key: str | None = None, *,
                  prefix: str | None = None, destination: str | None = None, detail: str = ""
                  ) -> StoragePermissionError:
    """The one-line :class:`StoragePermissionError` of a 403: operation, IAM action, resource, and why.

    An ``AccessDenied`` whose message speaks of KMS names the KMS action (the one in the message, else
    ``kms:Decrypt`` for reads and ``kms:GenerateDataKey`` for writes) instead of the S3 one. ``arn(key=None)``
    names the bucket or one of its objects."""
    resource = arn(key)
    if "kms" in message.lower():
        found = _KMS_ACTION.search(message)
        kms_action = found.group(0) if found else ("kms:Decrypt" if action == "s3:GetObject"
                                                   else "kms:GenerateDataKey")
        return StoragePermissionError(
            f"access denied: {kms_action} on the object's KMS key, for {operation} of {resource} (the job role "
            "lacks it, or the key policy does not let the role use the key: the bucket's, or another key the "
            "object was written with)",
            operation=operation, action=kms_action, resource=resource)
    what = f"{action} on {resource}"
    if destination is not None:  # a copy: read the source, write the destination
        what = f"{what} and s3:PutObject on {arn(destination)}"
        action, resource = f"{action} and s3:PutObject", f"{resource} and {arn(destination)}"
        why = (f"{operation} needs both: the job role lacks one, or lacks s3:ListBucket on {arn()}, "
               "without which S3 answers 403 instead of 404 for a missing source")
    elif action == "s3:ListBucket":
        why = (f"{operation} of prefix {prefix!r}: the job role lacks this permission, or its s3:prefix "
               "condition does not cover that prefix")
    elif action == "s3:GetObject" and operation == "HeadObject":
        why = (f"HeadObject answered 403: the job role lacks this permission, or lacks s3:ListBucket on "
               f"{arn()}, without which S3 turns the 404 of a missing key into this 403")
    elif action == "s3:GetObject":
        why = (f"{operation}: the job role lacks this permission, or s3:ListBucket on {arn()} so that "
               "S3 could answer 404 for a missing key")
    else:
        why = f"{operation}: the job role lacks this permission"
    return StoragePermissionError(f"access denied: {what} ({why}{detail})",
                                  operation=operation, action=action, resource=resource)
