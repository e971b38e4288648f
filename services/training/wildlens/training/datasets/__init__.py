"""Datasets from the labels people confirmed: read from the catalogue's API, labelled by a
label spec, cropped square with context (the crops inference sees), split by location, and
stored with their manifest.

``label_spec`` says which observations become which classes; ``split`` assigns locations to
train, validation and test.
"""
