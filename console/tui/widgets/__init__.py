"""Reusable widgets of the console, one per module, each with its CSS beside it."""
