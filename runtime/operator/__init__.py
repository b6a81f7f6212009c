"""What the operator commands compute and print: ``status`` (backlog, throughput, batches, errors), ``inspect``
(one file's whole history) and ``requeue`` / ``release`` (FAILED or QUARANTINED back to PENDING, recorded).

The modules here take a database connection (and, for ``inspect``, optionally an object store) and return plain
data; :mod:`runtime.commands` wires them to the CLI and :mod:`runtime.operator.formatting` renders them.
"""
