"""Reinforcement learning inside imagination."""
