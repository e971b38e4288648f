"""Camera-trap sequences (Camtrap DP's "events"): a deployment's media grouped by time, kept in
step as media arrive or are re-timed, and listed with their smoothed labels. Follows api →
service → repository → models."""
