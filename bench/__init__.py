"""Benchmarks: run as modules (`python -m bench.ack`); they print numbers and never assert."""
