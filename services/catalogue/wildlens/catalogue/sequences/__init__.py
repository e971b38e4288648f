"""Camera-trap sequences (Camtrap DP's "events"): a deployment's media grouped by time, and
their smoothed labels."""
