"""Datasets from the labels people confirmed: read from the catalogue's API, labelled by a
label spec, cropped square with context (the crops inference sees), split by location, and
stored with their manifest.

``label_spec`` says which observations become which classes; ``split`` assigns locations (or
events) whole to train, validation and test; ``catalogue`` reads what a build needs through
the catalogue's API; ``build`` makes the crops and the manifest under ``crops/<dataset>/``.
A training job builds its dataset with ``service.build_and_record`` (everything that can refuse
the request is decided before any image is read); ``api`` serves ``/v1/datasets``.
"""
