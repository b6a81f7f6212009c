"""Discovery facts the constructs and the runtime share (issue 21): the discovery modes of an environment, where
S3 Inventory reports land, and the EventBridge pattern that routes the raw prefix's "Object Created" events to
the event consumer's queue."""

from __future__ import annotations

#: Scheduled listing only (the reference behaviour).
MODE_LISTING = "listing"
#: A daily S3 Inventory report of the raw prefix, and scheduled listing as the registration path.
MODE_INVENTORY = "inventory"
#: S3 events -> EventBridge -> SQS -> the event consumer every few minutes, plus the inventory report and the
#: scheduled listing as reconciliation (events are delivered at least once, not always).
MODE_EVENTS = "events"
MODES = (MODE_LISTING, MODE_INVENTORY, MODE_EVENTS)

#: Where the bucket's S3 Inventory reports are delivered: a prefix of its own, outside the raw prefix (so no
#: listing, inventory run or event of the raw prefix ever sees a report as a raw file).
INVENTORY_PREFIX = "s3-inventory/"
#: The inventory configuration's id (the reports' path: ``<prefix><bucket>/<id>/<date>/manifest.json``).
INVENTORY_ID = "raw-json-data-daily"
#: ``workflow.full_listing_hours``'s default (``mldp list --full-listing-hours``): with an inventory, the scheduled
#: lister lists the whole raw prefix only when its last listing is older than this (a week; docs/discovery.md).
DEFAULT_FULL_LISTING_HOURS = 168


def object_created_pattern(bucket_name: object, raw_prefix: str) -> dict[str, object]:
    """The EventBridge event pattern of S3 "Object Created" events of ``bucket_name`` under ``raw_prefix``."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [{"prefix": raw_prefix}]}},
    }


__all__ = ["DEFAULT_FULL_LISTING_HOURS", "INVENTORY_ID", "INVENTORY_PREFIX", "MODES", "MODE_EVENTS",
           "MODE_INVENTORY", "MODE_LISTING", "object_created_pattern"]
