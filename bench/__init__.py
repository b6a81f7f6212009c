"""Benchmarks: each compares our approach with the naive reference approach in the same run and reports ratios."""
