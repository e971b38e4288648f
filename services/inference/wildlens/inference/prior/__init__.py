"""The spatiotemporal prior: which taxa people have verified where, in which month, at which
hour, as p(taxon | location, month, hour), combined with what the pixels say."""
