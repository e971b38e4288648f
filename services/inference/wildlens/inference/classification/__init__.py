"""Species on detector crops: square crops with context, one batched classifier run, and
each project's taxonomy and prior applied to the answer.

Bringing a classifier: a bundle folder like a detector's, with ``"kind": "classifier"``, the
input size and normalisation it was trained with, and its labels with their scientific names
(``{"label": "grey-heron", "scientific_name": "Ardea cinerea"}``); the ONNX model takes
``[N, 3, H, W]`` crops and answers one score per label (logits or probabilities). An optional
``geofence.json`` beside it says which regions each taxon occurs in (see
:mod:`wildlens.inference.taxonomy.geofence`). Serve it with ``wildlens up --classifier PATH``
or ``WILDLENS_INFERENCE__CLASSIFIER``, or promote one (``model.promoted``, kind classifier).

Settings (``WILDLENS_INFERENCE__…``): ``CLASSIFIER_TOP_K`` (labels kept per box),
``ROLLUP_THRESHOLD`` (below it the answer rolls up to genus, family, ...), ``PRIOR_WEIGHTS``
(JSON, project id or ``"*"`` → the spatiotemporal prior's weight; absent: no prior) and
``PRIOR_REFRESH_S`` (how long a learnt prior is used).

What a project says wins over the bundle: its label map (``PUT /v1/projects/{id}/label-maps/
{model name}``) names each label's taxon, and its taxa list (``PUT /v1/projects/{id}/taxa``)
rules out every label outside it. Both are re-read when ``taxonomy.changed`` names the project.
"""
