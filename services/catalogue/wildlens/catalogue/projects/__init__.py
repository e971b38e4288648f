"""Projects: creating one (its creator becomes its admin), reading, changing and listing them.
Layered api → service → repository → ``wildlens.catalogue.models``."""
