"""Benchmarks (`make bench`): measured figures beside their targets; never run by `make test`."""
