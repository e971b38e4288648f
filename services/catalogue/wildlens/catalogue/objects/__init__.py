"""Single objects (plankton vignettes): what a medium that is one carries."""
