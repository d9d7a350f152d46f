"""Teachers that produce pseudo-labels for training our default models."""
