"""Citizen science: what needs people goes to volunteers, and their consensus comes back."""
