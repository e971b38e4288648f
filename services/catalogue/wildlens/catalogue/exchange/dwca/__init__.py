"""Darwin Core Archives for GBIF, out."""
