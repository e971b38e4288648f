"""Zooniverse: subjects sent as image bytes, classifications pulled back, subjects retired."""
