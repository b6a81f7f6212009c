"""Spark side of the runtime: the session factory and the read/validate/transform/write of one batch."""
