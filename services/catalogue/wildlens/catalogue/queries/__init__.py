"""Finding media and observations: filters, keyset pages, short-lived image URLs."""
