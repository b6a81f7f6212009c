"""The moto bucket the runtime tests' S3 fixtures create (``tests/runtime/conftest.py``)."""

BUCKET = "mldp-test-bucket"
