"""Project members: who belongs to a project, in which role, with which permissions, and the
rules for changing that. Layered api → service → repository → ``wildlens.catalogue.models``."""
