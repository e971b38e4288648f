"""Media as the catalogue records them, and the observations made on them."""
