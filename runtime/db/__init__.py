"""The tracking database: SQL text (:mod:`~runtime.db.queries`, :mod:`~runtime.db.operator_queries`), the
tracking store of the jobs (:mod:`~runtime.db.tracking`) with its typed rows (:mod:`~runtime.db.records`) and
states (:mod:`~runtime.db.states`), bulk registration (:mod:`~runtime.db.registration`), migrations,
connections and the embedded server. Python 3.9-compatible: the lister imports it."""
