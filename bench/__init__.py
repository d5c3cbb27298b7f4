"""Benchmarks behind `make bench`: each module has `run(...) -> dict` and prints its figures."""
