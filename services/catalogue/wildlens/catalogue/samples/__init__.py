"""A project's samples (single objects' water samples, net tows and profiles): read with their
acquisitions, processes and objects counted, and a profile's images per depth bin given."""
