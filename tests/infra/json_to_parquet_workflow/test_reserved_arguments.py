"""The arguments the workflow sets itself (``reserved_arguments.py``), and what it leaves to the runtime's
defaults (``platform_contract.defaults``)."""

from __future__ import annotations

import pytest

from platform_contract import defaults

pytestmark = pytest.mark.infra


def test_the_lister_chunk_size_is_left_to_the_runtime() -> None:
    """The constructs set no ``--chunk-size``: the lister registers ``LISTER_CHUNK_SIZE`` keys per transaction."""
    from platform_constructs.json_to_parquet_workflow.reserved_arguments import LISTER_RESERVED

    assert "--chunk-size" not in LISTER_RESERVED
    assert defaults.LISTER_CHUNK_SIZE > 0
