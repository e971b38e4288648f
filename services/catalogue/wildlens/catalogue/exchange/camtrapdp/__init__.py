"""Camtrap DP 1.0.2 (TDWG): import a package into a project, export a project as a package."""
