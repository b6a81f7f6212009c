"""S3 "Object Created" events as EventBridge delivers them to an SQS target (the documented shape, S3 user guide
"EventBridge event message structure"), and moto SQS queues with a dead-letter queue."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.support.s3 import BUCKET


def object_created(key: str, sequencer: str, *, bucket: str = BUCKET, size: int = 12, etag: str = "0" * 32,
                   detail_type: str = "Object Created") -> str:
    """The SQS message body of one EventBridge S3 event."""
    return json.dumps({
        "version": "0", "id": str(uuid.uuid4()), "detail-type": detail_type, "source": "aws.s3",
        "account": "123456789012", "time": "2026-12-06T09:00:00Z", "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket},
                   "object": {"key": key, "size": size, "etag": etag, "version-id": "v", "sequencer": sequencer},
                   "request-id": "R", "requester": "123456789012", "source-ip-address": "10.0.0.1",
                   "reason": "PutObject"},
    })


def create_queue(sqs: Any, name: str = "mldp-events", *, max_receive_count: int = 3,
                 visibility_timeout: int = 30) -> tuple[str, str]:
    """A queue and its dead-letter queue (redrive after ``max_receive_count`` receives): (url, dlq url)."""
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes={
        "VisibilityTimeout": str(visibility_timeout),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}),
    })["QueueUrl"]
    return url, dlq


def queue_depth(sqs: Any, url: str) -> int:
    """Visible plus in-flight messages of ``url``."""
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def send(sqs: Any, url: str, *bodies: str) -> None:
    """Send each body as one message."""
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=body)
