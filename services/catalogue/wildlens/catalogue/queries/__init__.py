"""Finding a project's media and observations: filters, keyset pages, short-lived image URLs.
Follows api → service → repository → models."""
