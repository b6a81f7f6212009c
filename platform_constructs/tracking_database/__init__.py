"""``TrackingDatabase``: the PostgreSQL tracking database on RDS in private isolated subnets, its rotated secret
and its connection grants. See ``README.md`` in this folder.

Modules: :mod:`.construct` (the construct), :mod:`.props` (its props and their rules).
"""

from __future__ import annotations

from platform_constructs.tracking_database.construct import TrackingDatabase
from platform_constructs.tracking_database.props import APP_USERNAME, TrackingDatabaseProps

__all__ = ["APP_USERNAME", "TrackingDatabase", "TrackingDatabaseProps"]
