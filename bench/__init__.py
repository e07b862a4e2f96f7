"""Benchmarks: ``make bench`` runs the gradebook and the launch benchmark."""
