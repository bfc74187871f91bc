"""Simulated cohorts: the model's worlds drawn as data (above the kernel, below inference)."""
