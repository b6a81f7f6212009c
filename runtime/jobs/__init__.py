"""The two Glue jobs: the lister (:mod:`~runtime.jobs.lister`) and the batch processor
(:mod:`~runtime.jobs.processor`: the drain loop; :mod:`~runtime.jobs.batch`: the protocol steps of one batch;
:mod:`~runtime.jobs.recovery`: expired batches; :mod:`~runtime.jobs.archive`: archiving; :mod:`~runtime.jobs.retry`:
the retry rule; :mod:`~runtime.jobs.settings`: the run's knobs)."""
