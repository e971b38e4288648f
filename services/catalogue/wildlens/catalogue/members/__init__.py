"""Project members: who belongs to a project, in which role, with which permissions."""
