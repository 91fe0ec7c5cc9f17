"""Benchmarks of import, smart query, the contact list and export.

Run ``python -m bench`` from the repository root. bench/README.md describes
each figure and records the figures measured.
"""
