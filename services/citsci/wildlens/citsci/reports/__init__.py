"""Reports on the built-in volunteers' work: agreement per subject, each volunteer's accuracy
and skill (managers only), and the volunteers' consensus against the experts'. Layered api →
service, reading through ``wildlens.citsci.volunteers``."""
