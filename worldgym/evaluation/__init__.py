"""Evaluation: real rollouts, paired evaluation in both worlds, calibration
statistics and the world model's own prediction quality."""
