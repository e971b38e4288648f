"""Runs panoptes-aggregation's survey extractor and reducer on an export; prints JSON.

Run by the Python of the environment ``make panoptes-aggregation-venv`` makes, never by the
platform's (it imports nothing of ours):

    .venv-panoptes/bin/python tests/citsci/panoptes_survey.py EXPORT.csv WORKFLOW_ID VERSION \
        TASK OUT.json [LABELS.json]

It writes ``{"reductions": {subject: {choice: {"choice_count": n, "total_vote_count": n,
"answers_<question>": {answer: n}}}}, "slugs": {label: slug}, "seconds": {"extract": s,
"reduce": s}, "cpu_seconds": {...}}``; ``slugs`` is how panoptes-aggregation spells each of
the labels given in LABELS.json (it slugifies choices, questions and answers).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    import pandas
    from panoptes_aggregation.csv_utils import unflatten_data
    from panoptes_aggregation.scripts import extract_csv, reduce_csv
    from slugify import slugify

    export, workflow_id, version, task, out = sys.argv[1:6]
    labels = json.loads(Path(sys.argv[6]).read_text()) if len(sys.argv) > 6 else []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        extractor = folder / "extractor.json"
        # YAML is a superset of JSON: the configuration files are written as JSON.
        extractor.write_text(
            json.dumps(
                {
                    "workflow_id": int(workflow_id),
                    "workflow_version": version,
                    "extractor_config": {"survey_extractor": [{"task": task}]},
                }
            )
        )
        reducer = folder / "reducer.json"
        reducer.write_text(json.dumps({"reducer_config": {"survey_reducer": {}}}))
        started, started_cpu = time.perf_counter(), time.process_time()
        (extracts,) = extract_csv(
            export, str(extractor), output_dir=tmp, output_name="survey", hide_progressbar=True
        )
        extracted, extracted_cpu = time.perf_counter(), time.process_time()
        reductions = reduce_csv(
            extracts, str(reducer), output_dir=tmp, output_name="survey", hide_progressbar=True
        )
        reduced, reduced_cpu = time.perf_counter(), time.process_time()
        table = pandas.read_csv(reductions, encoding="utf-8")
    result: dict[str, dict[str, dict[str, object]]] = {}
    for _, row in table.iterrows():
        data = unflatten_data(row)
        entry: dict[str, object] = {}
        for key, value in data.items():
            if key in ("choice", "aggregation_version"):
                continue
            if isinstance(value, dict):
                entry[key] = {str(k): int(v) for k, v in value.items()}
            else:
                entry[key] = int(value)
        result.setdefault(str(int(row["subject_id"])), {})[str(data["choice"])] = entry
    json.dump(
        {
            "reductions": result,
            "slugs": {label: slugify(label, separator="-") for label in labels},
            "seconds": {"extract": extracted - started, "reduce": reduced - extracted},
            "cpu_seconds": {
                "extract": extracted_cpu - started_cpu,
                "reduce": reduced_cpu - extracted_cpu,
            },
        },
        Path(out).open("w"),
    )


if __name__ == "__main__":
    main()
