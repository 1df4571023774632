"""Data: episode datasets in Minari's format, collection from a task, and the
worker processes that collection and real rollouts run in."""
