"""Trained weights of the neural zoo policies (made by scripts/train_bc.py)."""
