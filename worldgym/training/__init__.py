"""Training: the training loop of any model family, and Orbax checkpoints."""
