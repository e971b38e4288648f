"""Events (sequences): a deployment's media grouped by time, and their smoothed labels."""
