"""Each project's spatiotemporal prior, learnt from its verified observations in the
catalogue's API; the prior itself (estimates and combination) is :mod:`wildlens.common.prior`."""
