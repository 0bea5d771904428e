"""Benchmarks shipped with the package (``soundforge bench NAME``); each prints JSON."""
