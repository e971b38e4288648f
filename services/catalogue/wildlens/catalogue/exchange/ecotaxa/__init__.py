"""EcoTaxa TSV bundles: plankton and other single objects in and out."""
