"""Aggregating volunteers' classifications: seconds for ours next to panoptes-aggregation's.

A Zooniverse classification export is generated in Zooniverse's real CSV layout
(``tests/citsci/zooniverse_exports.py``: a Snapshot-Serengeti-like survey, volunteers of
known skill, some blanks, two species on some subjects, reloads, anonymous volunteers) with
``--classifications`` rows over ``--subjects`` subjects. In the same run:

* ours: ``aggregate_survey_export`` over the whole file, as the citsci service runs it:
  streaming the CSV, each volunteer counted once per subject, per-subject choice and answer
  counts (panoptes-aggregation's survey reduction) and Snapshot Serengeti's plurality
  consensus (species, median count, Pielou evenness, support, fraction blank). Dawid-Skene
  over the same votes is timed beside it, not in the figure compared.
* panoptes-aggregation 5.3.1 (in its own environment, ``make panoptes-aggregation-venv``):
  ``extract_csv`` with the survey extractor then ``reduce_csv`` with the survey reducer,
  timed inside its process (interpreter start and imports left out), on the classifications
  of the first ``--sample-subjects`` subjects. Its extraction goes row by row and its reduction
  selects each subject's rows from the whole table, so it is at least linear in the rows: its
  figure is scaled by full rows over sample rows, which flatters it (a full run would take
  longer than the scaled figure). Ours is also run on the sample, and the two sample results
  are checked to have the same per-subject choice counts.

    python bench/citsci.py [--classifications 1000000] [--subjects 100000]
        [--volunteers 5000] [--sample-subjects 1000] [--export PATH]

Each figure is given as wall-clock seconds and CPU seconds of the process (both are single-
threaded; on a shared machine wall-clock time includes the other processes' turns).

The last line reads ``aggregation of <n> classifications: ours <s> s (<c> CPU s),
panoptes-aggregation <s> s (<c> CPU s, ...), ratio R`` (R = panoptes-aggregation's CPU seconds
over ours: faster is larger).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.citsci.panoptes_reference import panoptes_survey  # noqa: E402
from tests.citsci.zooniverse_exports import (  # noqa: E402
    WORKFLOW_ID,
    WORKFLOW_VERSION,
    simulation,
    write_export,
)
from wildlens.citsci.aggregation import (  # noqa: E402
    aggregate_survey_export,
    dawid_skene,
    read_survey_votes,
    tally_survey,
)


def generate(path: Path, classifications: int, subjects: int, volunteers: int) -> None:
    votes = max(1, round(classifications / subjects))
    _, rows = simulation(
        subjects=subjects,
        votes=votes,
        volunteers=volunteers,
        blank_fraction=0.3,
        second_species_fraction=0.1,
        repeat_fraction=0.02,
        anonymous_fraction=0.2,
        gold_fraction=0.01,
        seed=20261206,
    )
    write_export(itertools.islice(rows, classifications), path)


def sample(path: Path, subjects: int, out: Path) -> int:
    """The export's rows of its first ``subjects`` subjects (rows come subject by subject)."""
    seen: set[str] = set()
    rows = 0
    with (
        path.open(newline="", encoding="utf-8") as source,
        out.open("w", newline="", encoding="utf-8") as target,
    ):
        reader, writer = csv.reader(source), csv.writer(target)
        writer.writerow(next(reader))
        for row in reader:
            if row[-1] not in seen:
                if len(seen) == subjects:
                    break
                seen.add(row[-1])
            writer.writerow(row)
            rows += 1
    return rows


def ours(path: Path) -> tuple[float, float, int, int]:
    """Wall and CPU seconds of aggregating the export, classifications kept, subjects."""
    started, started_cpu = time.perf_counter(), time.process_time()
    with path.open(newline="", encoding="utf-8") as lines:
        result = aggregate_survey_export(lines, workflow_id=WORKFLOW_ID, task="T0")
    seconds, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    return seconds, cpu, result.votes.n_classifications, result.votes.n_subjects


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--classifications", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--volunteers", type=int, default=5_000)
    parser.add_argument("--sample-subjects", type=int, default=1_000)
    parser.add_argument("--export", type=Path, help="reuse (or keep) the generated export here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        export = args.export or Path(tmp) / "classifications.csv"
        if not export.exists():
            started = time.perf_counter()
            generate(export, args.classifications, args.subjects, args.volunteers)
            print(
                f"generated {export.stat().st_size / 1e6:.0f} MB export in "
                f"{time.perf_counter() - started:.0f} s",
                flush=True,
            )
        with export.open(newline="", encoding="utf-8") as lines:
            total_rows = sum(1 for _ in lines) - 1

        seconds, cpu, kept, subjects = ours(export)
        print(
            f"ours: {total_rows} classifications ({kept} after one per volunteer and subject), "
            f"{subjects} subjects: {seconds:.2f} s ({cpu:.2f} CPU s), "
            f"{total_rows / seconds:,.0f} classifications/s",
            flush=True,
        )
        with export.open(newline="", encoding="utf-8") as lines:
            votes = read_survey_votes(lines, workflow_id=WORKFLOW_ID, task="T0")
        votes = votes.first_per_volunteer()
        started = time.perf_counter()
        marks = votes.mark_classification
        result = dawid_skene(votes.subject[marks], votes.volunteer[marks], votes.mark_choice)
        print(
            f"Dawid-Skene over the same {marks.size} votes, {len(votes.volunteers)} volunteers: "
            f"{time.perf_counter() - started:.2f} s, {result.iterations} EM rounds",
            flush=True,
        )

        sample_path = Path(tmp) / "sample.csv"
        sample_rows = sample(export, args.sample_subjects, sample_path)
        reference = panoptes_survey(
            sample_path, workflow_id=WORKFLOW_ID, version=WORKFLOW_VERSION, task="T0", labels=[]
        )
        extract, reduce = reference["seconds"]["extract"], reference["seconds"]["reduce"]
        their_cpu = reference["cpu_seconds"]["extract"] + reference["cpu_seconds"]["reduce"]
        sample_ours, sample_cpu, _, _ = ours(sample_path)
        with sample_path.open(newline="", encoding="utf-8") as lines:
            sample_votes = read_survey_votes(lines, workflow_id=WORKFLOW_ID, task="T0")
        mine = {
            str(subject): {c.lower(): n["choice_count"] for c, n in choices.items()}
            for subject, choices in tally_survey(sample_votes).as_dict().items()
        }
        theirs = {
            subject: {c: n["choice_count"] for c, n in choices.items()}
            for subject, choices in reference["reductions"].items()
        }
        if mine != theirs:
            raise SystemExit(
                "the sample's per-subject choice counts differ from panoptes-aggregation's"
            )
        scale = total_rows / sample_rows
        print(
            f"sample: {sample_rows} classifications of {args.sample_subjects} subjects; "
            f"panoptes-aggregation extract {extract:.2f} s + reduce {reduce:.2f} s "
            f"({their_cpu:.2f} CPU s), ours {sample_ours:.3f} s ({sample_cpu:.3f} CPU s), "
            f"ratio on the sample {their_cpu / sample_cpu:.0f}; same per-subject choice counts",
            flush=True,
        )
        panoptes, panoptes_cpu = (extract + reduce) * scale, their_cpu * scale
        print(
            f"panoptes-aggregation scaled from the sample by {scale:.1f} (linear; a full run "
            f"would be slower): {panoptes:.0f} s ({panoptes_cpu:.0f} CPU s)"
        )
        # The ratio is of CPU seconds: both run on one core, and on a shared machine the wall
        # clock also counts the other processes' turns, which differ between the two runs.
        print(
            f"aggregation of {total_rows} classifications: ours {seconds:.2f} s "
            f"({cpu:.2f} CPU s), panoptes-aggregation {panoptes:.0f} s ({panoptes_cpu:.0f} CPU "
            f"s, scaled from a {sample_rows}-row sample), ratio {panoptes_cpu / cpu:.1f}"
        )


if __name__ == "__main__":
    main()
