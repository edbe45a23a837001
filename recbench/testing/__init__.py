"""Fixture writers for tests, benchmarks and users' own tests: files in the publishers' exact
formats (MovieLens 100K / 1M / 25M, GoodReads), generated, so no licensed data is needed.

The product path (loading, protocol, runs) never imports this package.
"""
