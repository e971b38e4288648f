"""Training: datasets from verified observations, training jobs, and the model registry."""
