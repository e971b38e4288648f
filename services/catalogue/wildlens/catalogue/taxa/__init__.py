"""The taxon tree, and each project's label maps and taxa list."""
