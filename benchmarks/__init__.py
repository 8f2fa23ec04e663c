"""The benchmark suite of activerel: see docs/benchmarks.md."""
