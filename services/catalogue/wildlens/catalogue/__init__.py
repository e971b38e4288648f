"""The catalogue: the system of record for what was seen where and when, and who may see it."""
