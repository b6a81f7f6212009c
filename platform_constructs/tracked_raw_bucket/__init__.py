"""``TrackedRawBucket``: the data-lake bucket (layout, encryption, lifecycle, access logs) and its prefix-scoped
grants. See ``README.md`` in this folder.

Modules: :mod:`.construct` (the construct), :mod:`.props` (its props and their rules), :mod:`.lifecycle` (the
lifecycle rules), :mod:`.grants` (the grant statements).
"""

from __future__ import annotations

from platform_constructs.tracked_raw_bucket.construct import TrackedRawBucket
from platform_constructs.tracked_raw_bucket.props import (
    ENCRYPTION_KMS,
    ENCRYPTION_S3_MANAGED,
    TrackedRawBucketProps,
)

__all__ = ["ENCRYPTION_KMS", "ENCRYPTION_S3_MANAGED", "TrackedRawBucket", "TrackedRawBucketProps"]
