"""The mutation check (``make mutation-check``): does each guarantee's test fail when the guarantee breaks?

Each entry of :data:`tests.mutations.catalog.MUTATIONS` breaks one guarantee of docs/guarantees.md with one small
edit of the code behind it and names the tests that guarantee is mapped to. :mod:`tests.mutations.check` copies the
working tree (tracked and untracked, non-ignored files) into a temporary directory per mutation, applies the edit
there, runs the mapped tests, and reports each mutation killed (the tests failed) or survived. The shared working
tree is never modified. Run it with ``.venv/bin/python -m tests.mutations`` (``--help`` for the options).

It lives under ``tests/`` because the catalog is test metadata (which tests prove which guarantee), and so that
the fast tier can import it: ``tests/mutations/test_catalog.py`` checks on every ``make test`` that each snippet
still occurs exactly once and each mapped test exists, so the catalog cannot silently rot when the code moves.
"""
