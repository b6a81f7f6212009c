"""The claim is served by the partial index ``idx_fps_claimable`` (README, "Exactly once", step 1), checked on the
runtime's own claim statement over a table where most files are done, as in a backfill well under way."""

from __future__ import annotations

from bench.claim import plan_of_claim, populate


def test_the_claim_statement_uses_the_partial_index_of_claimable_rows(db_conn):
    populate(db_conn, rows=200_000, pending_fraction=0.05)
    with db_conn.cursor() as cur:  # the benchmark adds the reference design's index; the schema has no such index
        cur.execute("DROP INDEX idx_processing_status")
        cur.execute("ANALYZE file_processing_status")
    db_conn.commit()
    plan = plan_of_claim(db_conn, batch_size=1000)
    candidates = plan[plan.index("CTE candidates"):].split("CTE ", 2)[1] if "CTE candidates" in plan else plan
    assert "idx_fps_claimable" in candidates, plan
    assert "Seq Scan" not in plan, plan  # the update finds each picked row by its primary key
