"""Media as the catalogue records them (placed in their deployment and event), the machine
observations their analyses bring, and one medium as a caller may see it. Follows api →
service → repository → models."""
