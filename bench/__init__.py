"""Benchmarks: relay latency and throughput, matching, memory, scaling (docs/benchmarks.md)."""
