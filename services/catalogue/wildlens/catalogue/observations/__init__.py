"""Observations: their verification (states, corrections, history, revert), the review queue,
which labels count, and label smoothing across an event. Follows api → service → repository →
models."""
