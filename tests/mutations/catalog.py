"""The mutations of the mutation check: for a guarantee of docs/guarantees.md, one small edit that breaks it and the
tests that guarantee is mapped to (which must fail).

**Adding a mutation.** Append a :class:`Mutation`: a short name (what is broken), the edit (a file, an exact
snippet of its code, the replacement) and the node ids of the guarantee's tests as docs/guarantees.md names them,
the fast ones first (the run stops at the first failure, ``-x``). Keep each snippet as small as possible (one line
or one condition) so that it survives refactoring; it must occur exactly once in its file, or the check fails with
"mutation N no longer applies: update it". A mutation whose tests are not written yet carries ``pending`` (who
writes them): the check then reports "mapped test missing" instead of failing, and runs it once the tests exist.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Edit:
    """Replace ``find`` (which must occur exactly once in ``path``, relative to the repository) by ``replace``."""

    path: str
    find: str
    replace: str


@dataclass(frozen=True)
class Mutation:
    """One way to break one guarantee, and the tests that must then fail."""

    name: str
    edits: tuple[Edit, ...]
    tests: tuple[str, ...]
    #: non-empty while the mapped tests are not written yet: who writes them (missing tests are then not a failure)
    pending: str = ""


def one_edit(name: str, path: str, find: str, replace: str, *tests: str, pending: str = "") -> Mutation:
    """A mutation made of one edit."""
    return Mutation(name, (Edit(path, find, replace),), tuple(tests), pending)


QUERIES = "runtime/db/queries.py"
T = "tests/runtime/"

MUTATIONS: tuple[Mutation, ...] = (
    # -- the claim (README "Exactly once", step 1): the locks, not only the plan --------------------------------
    one_edit(
        "claim without row locks (FOR UPDATE SKIP LOCKED removed from CLAIM_BATCH)",
        QUERIES, "FOR UPDATE SKIP LOCKED", "",
        T + "db/test_tracking_claim_concurrency.py::"
        "test_a_claim_skips_the_files_an_open_claim_holds_without_waiting_for_it",
        T + "db/test_tracking_claim_concurrency.py::"
            "test_a_claim_finds_nothing_at_once_while_an_open_claim_holds_every_claimable_file"),
    one_edit(
        "claim waits for other claims' locks (SKIP LOCKED removed, FOR UPDATE kept)",
        QUERIES, "FOR UPDATE SKIP LOCKED", "FOR UPDATE",
        T + "db/test_tracking_claim_concurrency.py::"
        "test_a_claim_skips_the_files_an_open_claim_holds_without_waiting_for_it",
        T + "db/test_tracking_claim_concurrency.py::"
            "test_a_claim_finds_nothing_at_once_while_an_open_claim_holds_every_claimable_file"),
    # -- the two whose tests did not fail when they broke (issue "three guarantees", items 2 and 3) -------------
    one_edit(
        "lease renewal deleted in BatchProtocol.finish (its begin_publish call)",
        "runtime/jobs/batch.py", "self.begin_publish(manifest)", "pass",
        T + "scenarios/test_protocol_guarantees.py::"
            "test_a_run_whose_batch_is_taken_over_after_its_manifest_publishes_nothing"),
    # A failed conversion is followed by two safe points before the narrowing can blame a file: the conversion's
    # own, then the one before Spark starts (BatchProtocol.spark: the narrowing's probe starts Spark). Either alone
    # stops the run, so deleting one is an equivalent mutant: both are deleted.
    Mutation(
        "the stop safe point before recording outcomes deleted (the stop checks after a failed conversion)",
        (Edit("runtime/jobs/conversion.py",
              "self.stop_check()  # a conversion a stop cancelled is no file's failure: stop, narrow nothing", "pass"),
         Edit("runtime/jobs/batch.py", "self.safe_point()\n        return self.spark_factory()",
              "return self.spark_factory()")),
        (T + "scenarios/test_protocol_guarantees.py::"
         "test_a_stop_requested_during_a_failing_conversion_charges_no_attempt",)),
    # -- the twelve the reviewer's mutations showed held ---------------------------------------------------------
    Mutation(
        "the commit moved before the publish (BatchProtocol.finish)",
        (Edit("runtime/jobs/batch.py",
              "        statuses = self.commit(manifest.batch_id, manifest.outcomes, BatchState.COMMITTED)\n", ""),
         Edit("runtime/jobs/batch.py",
              "        pub.publish(self.store, manifest, self.settings.io_workers, self.checkpoint)\n",
              "        statuses = self.commit(manifest.batch_id, manifest.outcomes, BatchState.COMMITTED)\n"
              "        pub.publish(self.store, manifest, self.settings.io_workers, self.checkpoint)\n")),
        (T + "jobs/test_processor.py::test_crash_at_every_step_then_a_normal_run_finishes_exactly_once",)),
    one_edit(
        "the fence dropped (CLOSE_BATCH closes a batch whoever holds it)",
        QUERIES, "WHERE batch_id = %(batch_id)s AND state = 'CLAIMED' AND glue_job_run_id = %(job_run_id)s",
        "WHERE batch_id = %(batch_id)s",
        T + "jobs/test_owner_and_heartbeat.py::"
        "test_the_commit_is_fenced_a_run_whose_batch_was_taken_over_records_nothing",
        T + "db/test_tracking.py::test_only_the_owner_records_a_batchs_outcomes"),
    one_edit(
        "the ETag dropped from the archive's conditional delete (mover)",
        "runtime/storage/mover.py", "store.delete_many(to_delete, if_match=expected)", "store.delete_many(to_delete)",
        T + "jobs/test_archive_conditional.py::test_an_upload_between_copy_and_delete_is_kept_on_s3",
        T + "jobs/test_archive_conditional.py::test_a_local_file_replaced_between_copy_and_delete_is_kept",
        T + "jobs/test_archive_conditional.py::test_an_unchanged_source_is_deleted_by_the_conditional_delete"),
    one_edit(
        "the narrowing bookkeeping: a culprit recorded without the cause of its own failure",
        "runtime/jobs/narrowing.py", "self.culprits.append((half[0], result.cause))",
        "self.culprits.append((half[0], self._batch_signature))",
        T + "jobs/test_narrowing.py::test_one_poison_file_among_many_is_found_alone_with_its_cause",
        T + "jobs/test_narrowing.py::test_several_culprits_each_with_their_own_cause"),
    one_edit(
        # the spec's reader options, not read.py's STRICT_JSON_OPTIONS: every conversion passes the spec's options,
        # which override those defaults, so loosening STRICT_JSON_OPTIONS alone changes no conversion
        "strict JSON loosened (single-quoted strings accepted whatever the spec allows)",
        "runtime/transforms/model.py", '"true" if name in self.json_allow else "false"',
        '"true" if name in self.json_allow or name == "single_quotes" else "false"',
        T + "spark/test_convert.py::test_each_input_kind_has_its_defined_outcome"),
    one_edit(
        "the pipeline-key filter dropped (Layout.is_registrable_key)",
        "runtime/layout.py", "return key.startswith(self.raw_prefix) and not self.is_pipeline_key(key)",
        "return key.startswith(self.raw_prefix)",
        T + "jobs/test_lister_guard.py::test_pipeline_keys_nested_under_the_raw_prefix_are_never_registered"),
    one_edit(
        "the same-ETag history check dropped (REGISTER_INCOMING)",
        QUERIES, "h.file_id = f.file_id AND h.etag = i.etag)", "h.file_id = f.file_id AND h.etag = i.etag AND false)",
        T + "jobs/test_lister_guard.py::test_a_stale_listing_never_rolls_a_file_back",
        T + "jobs/test_lister_guard.py::test_an_archived_file_never_goes_pending_again_from_a_stale_page"),
    one_edit(
        "the backoff not stored (FINISH_FILES keeps next_attempt_at)",
        QUERIES, "ELSE now() + make_interval(secs => o.retry_in_seconds) END", "ELSE f.next_attempt_at END",
        T + "jobs/test_retry_backoff.py::"
        "test_failed_files_wait_twice_as_long_after_each_attempt_up_to_the_cap_then_are_"
            "quarantined",
        T + "jobs/test_retry_backoff.py::test_the_backoff_never_overflows_whatever_the_attempt_count",
        T + "jobs/test_recovery.py::test_the_retry_rule_backs_off_exponentially_then_quarantines",
        T + "db/test_tracking.py::test_the_store_records_what_the_retry_rule_decides",
        T + "jobs/test_owner_and_heartbeat.py::test_the_retry_backoff_stays_bounded_for_any_attempt_count"),
    one_edit(
        "the attempt not given back on a stop (RetryPolicy.give_back keeps the attempt count)",
        "runtime/jobs/retry.py", "attempts=max(attempts - 1, 0)", "attempts=attempts",
        T + "jobs/test_owner_and_heartbeat.py::"
        "test_a_run_stopping_on_an_error_gives_its_batch_back_without_charging_an_attempt",
        T + "scenarios/test_signals.py::test_a_conversion_that_fails_because_a_stop_cancelled_it_charges_no_attempt"),
    one_edit(
        "a file given back forgets it had failed (RetryPolicy.give_back always says PENDING)",
        "runtime/jobs/retry.py", "state = FileState.FAILED if attempts > 1 else FileState.PENDING",
        "state = FileState.PENDING",
        T + "jobs/test_owner_and_heartbeat.py::"
        "test_a_run_stopping_on_an_error_gives_its_batch_back_without_charging_an_attempt"),
    one_edit(
        "the manifest decision: a batch without a manifest is not abandoned (recovery.decide)",
        "runtime/jobs/recovery.py", "if not batch.manifest_found:", "if False:",
        T + "jobs/test_recovery.py::test_recovery_decides_from_the_facts_alone",
        T + "jobs/test_recovery.py::test_probing_a_manifest_tells_absent_from_unreadable"),
    one_edit(
        "the no-slash prefix accepted (Layout.check_listing_prefix)",
        "runtime/layout.py", "if not prefix.startswith(self.raw_prefix):",
        'if not prefix.startswith(self.raw_prefix.rstrip("/")):',
        T + "jobs/test_lister_guard.py::"
        "test_an_unset_variable_and_the_raw_prefix_without_its_slash_are_named_in_the_error",
        T + "jobs/test_lister_guard.py::test_a_prefix_outside_the_raw_prefix_is_refused_and_nothing_is_registered"),
    one_edit(
        "CopySourceIfMatch dropped from the archive copy (S3Store.copy)",
        "runtime/storage/s3.py", """{"CopySourceIfMatch": f'"{if_match}"'} if if_match else {}""", "{}",
        T + "storage/test_mover.py::test_s3_archive_copy_is_conditional_on_the_processed_etag",
        T + "storage/test_s3.py::test_a_file_overwritten_after_processing_is_not_archived_under_the_412",
        T + "storage/test_mover.py::test_s3_costs_one_copy_per_file_and_one_delete_per_thousand"),
    # -- the second data-safety round ------------------------------------------------------------------------------
    one_edit(
        "the ETag processed not recorded on a row registered without one (FINISH_FILES)",
        QUERIES, "etag = coalesce(f.etag, o.etag),", "etag = f.etag,",
        T + "scenarios/test_null_etag.py::test_the_outcome_records_the_etag_the_precheck_read_on_a_row_that_had_none",
        T + "scenarios/test_null_etag.py::test_a_lister_between_the_commit_and_the_archive_changes_nothing"),
    one_edit(
        "a provably alive owner's batch taken over once its lease lapsed (owner.recoverability)",
        "runtime/jobs/owner.py", "    if verdict.alive:\n        return verdict\n", "",
        T + "jobs/test_owner_and_heartbeat.py::test_a_provably_alive_owner_keeps_its_batch_whatever_its_lease_says",
        T + "jobs/test_owner_and_heartbeat.py::test_a_running_glue_owner_keeps_its_batch_after_its_lease_lapsed"),
    one_edit(
        "a batch that started to publish abandoned without retracting (recovery.decide)",
        "runtime/jobs/recovery.py", "if not batch.manifest_found and batch.publish_started:", "if False:",
        T + "scenarios/test_staging_loss.py::"
        "test_a_batch_whose_whole_staging_is_gone_after_it_started_to_publish_is_retracted",
        T + "jobs/test_recovery.py::test_recovery_decides_from_the_facts_alone"),
    one_edit(
        "culprits retried in batches again, not alone (BatchConversion)",
        "runtime/jobs/conversion.py", "CULPRIT_PREFIX + why, claim_limit=1)", "CULPRIT_PREFIX + why)",
        T + "jobs/test_conversion_progress.py::test_culprits_are_retried_alone_and_quarantined_after_the_last_attempt"),
    one_edit(
        "no control failing like the batch, yet the cause concluded no file's (Narrowing)",
        "runtime/jobs/narrowing.py", "        if not failed_alike:", "        if False:",
        T + "jobs/test_narrowing.py::test_with_no_file_left_to_compare_the_failing_files_are_charged",
        T + "jobs/test_narrowing.py::test_a_conversion_with_no_good_record_proves_nothing_about_the_hook"),
    one_edit(
        "a file with several top-level JSON values read as one array (json_shape)",
        "runtime/jobs/json_shape.py", "if self._values <= 1:", "if True:",
        T + "jobs/test_json_shape.py::test_each_rule"),
    one_edit(
        "a refusal of one object taken for the role's (precheck._judge_refusals)",
        "runtime/jobs/precheck.py", "if not any(allowed):", "if True:",
        T + "jobs/test_precheck_permissions.py::"
        "test_a_single_refused_object_whose_head_is_allowed_is_failed_not_raised",
        T + "jobs/test_precheck_permissions.py::test_refused_objects_whose_heads_are_allowed_are_each_failed"),
    # -- explicit safe points (issue 17): a stop is decided from the batch's stage alone ----------------------------
    one_edit(
        "a stop honoured at the manifest (BatchStage.has_manifest off by one: the batch is not finished)",
        "runtime/jobs/batch.py", "return self >= BatchStage.MANIFEST_WRITTEN",
        "return self > BatchStage.MANIFEST_WRITTEN",
        T + "jobs/test_batch_safe_points.py::test_the_stop_rule_is_a_function_of_the_stage_alone",
        T + "jobs/test_batch_safe_points.py::"
            "test_a_stop_during_each_step_gives_the_batch_back_before_its_manifest_and_finishes_it_after"),
    # -- the one parse (issue 20's read path): its flag decides which records reach the rescue --------------------
    one_edit(
        "what the one parse rescued is dropped (rescued_in_the_parse)",
        "runtime/spark/rescue.py", "RESCUED: F.when(~corrupt, F.col(RESCUED_FIELD))",
        'RESCUED: F.lit(None).cast("string")',
        T + "spark/test_rescue.py::test_new_top_level_and_nested_fields_and_other_list_elements_are_rescued"),
    # -- registration (issue 21's measure round): the plain INSERT's fallback, a report's two writers ---------------
    one_edit(
        "a page whose plain INSERT met a key inserted meanwhile fails instead of being registered again",
        "runtime/db/registration.py", "except psycopg2.errors.UniqueViolation:", "except KeyError:",
        T + "db/test_registration_insert_race.py::"
            "test_a_key_inserted_by_another_session_during_the_page_is_classified_again_not_an_error"),
    one_edit(
        "the pages an extra writer registered are not counted (register_pages)",
        "runtime/db/registration.py", "results.put(register_page(extra, item, head))",
        "register_page(extra, item, head)",
        T + "db/test_registration_writers.py::test_every_page_is_registered_once_across_the_writers",
        T + "jobs/test_inventory.py::test_two_writers_register_a_report_by_the_same_rules"),
    # -- a reprocessed file's dead letters (docs/iceberg.md "Reprocessing"): once, from the latest conversion ---------
    one_edit(
        "the next run cleans a committed batch's staging without removing the dead letters its conversions replace",
        "runtime/jobs/recovery.py", "dead_letters.clean_committed(self.store, self.tracking, self.layout, batch_id)",
        "pub.clean_staging(self.store, self.layout, batch_id)",
        T + "jobs/test_dead_letters.py::"
            "test_a_reprocessed_files_bad_records_are_in_the_dead_letter_prefix_once_from_its_latest_batch"),
    one_edit(
        "the removal of replaced dead letters ignores the order of conversions (a later one's folder deleted too)",
        "runtime/db/dead_letter_queries.py", "AND earlier.history_id < latest.history_id", "AND TRUE",
        T + "jobs/test_dead_letters.py::"
            "test_a_reprocessed_files_bad_records_are_in_the_dead_letter_prefix_once_from_its_latest_batch"),
)
