"""The checkov acknowledgments (``stacks/checkov_acknowledgments.py``) each name a specific reason and a row of the
docs' table (fast tier: the table is read without ``aws_cdk``). That each matches a synthesized resource is
``tests/infra/stacks/test_checkov_acknowledgments.py``; that no finding is left unacknowledged is ``make checkov``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from stacks.checkov_acknowledgments import ACKNOWLEDGMENTS, CDK_DEPLOY_TIME_FUNCTIONS, CHECK_ID

DOCS = Path(__file__).resolve().parents[1] / "docs" / "infrastructure.md"


def _docs_rows() -> dict[str, str]:
    """``check id -> where`` of the table in the "checkov" section of docs/infrastructure.md."""
    section = DOCS.read_text(encoding="utf-8").split("### checkov", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(CKV2?_AWS_\d+)`[^|]*\| ([^|]+) \|", section, flags=re.MULTILINE)
    return {check: where.strip() for check, where in rows}


def test_every_acknowledgment_names_a_check_resources_and_a_specific_reason() -> None:
    assert ACKNOWLEDGMENTS
    for ack in ACKNOWLEDGMENTS:
        assert CHECK_ID.match(ack.check), ack.check
        assert ack.paths and all(path and not path.startswith("/") for path in ack.paths), ack
        assert ack.resource_type.startswith("AWS::"), ack
        assert len(ack.reason) >= 80, f"{ack.check}: reason too short to be specific: {ack.reason!r}"
        assert ack.where, ack.check


def test_a_reason_explains_one_check() -> None:
    """Different checks never share a reason (a copied reason explains at most one of them)."""
    reasons = [ack.reason for ack in ACKNOWLEDGMENTS]
    assert len(set(reasons)) == len(reasons)
    assert len({(ack.check, ack.resource_type) for ack in ACKNOWLEDGMENTS}) == len(ACKNOWLEDGMENTS)


def test_every_acknowledgment_is_a_row_of_the_docs_table_and_every_row_an_acknowledgment() -> None:
    rows = _docs_rows()
    assert rows == {ack.check: ack.where for ack in ACKNOWLEDGMENTS}


def test_the_deploy_time_functions_are_cdk_singletons_described_once() -> None:
    for path, what in CDK_DEPLOY_TIME_FUNCTIONS.items():
        assert what.startswith("CDK's "), path
        assert path.endswith(("/Resource", "/Handler")), path


def test_the_table_is_read_without_aws_cdk() -> None:
    """The fast tier imports this module; aws_cdk would take seconds (it is imported only to write the metadata)."""
    import subprocess

    code = "import sys, stacks.checkov_acknowledgments; sys.exit('aws_cdk' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=DOCS.parents[1], check=False).returncode == 0
