"""Observations: their verification (states, corrections, history, revert), the review queue
and the candidates selection for volunteers weighs from it, which labels count, and label
smoothing across an event. Follows api → service → repository → models."""
