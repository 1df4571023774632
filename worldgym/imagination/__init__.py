"""Imagination: the pure-JAX rollout engine and the Gymnasium environments over it."""
