"""Projects and who belongs to them."""
