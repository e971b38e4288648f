"""Subject sets: groups of media shown to volunteers together."""
