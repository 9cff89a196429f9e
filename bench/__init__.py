"""Benchmarks: `make bench` prints figures measured on this machine; nothing here asserts a speed."""
