"""Data in and out of the catalogue in the field's exchange formats, and export jobs."""
