"""Zooniverse classification exports made up for tests and the benchmark.

Simulated volunteers classify simulated camera-trap subjects in a Snapshot-Serengeti-like
survey workflow, and the result is written in Zooniverse's real export layout, IP addresses
included (from the documentation range 198.51.100.0/24), so that readers are held to
dropping them. Each volunteer has a skill (the chance of naming the true species) and, when
wrong, errs along the species' known look-alikes, the per-species confusion of real surveys
(a Thomson's gazelle taken for a Grant's, a hartebeest for a topi).
"""

from __future__ import annotations

import bisect
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from wildlens.citsci.aggregation import EXPORT_COLUMNS

SPECIES = (
    "ZEBRA",
    "WILDEBEEST",
    "GAZELLETHOMSONS",
    "GAZELLEGRANTS",
    "HARTEBEEST",
    "TOPI",
    "BUFFALO",
    "ELEPHANT",
    "IMPALA",
    "WARTHOG",
    "LIONFEMALE",
    "HYENASPOTTED",
)
# Each species' look-alikes: where a volunteer's wrong answers mostly go.
LOOK_ALIKES = {
    "ZEBRA": ("WILDEBEEST",),
    "WILDEBEEST": ("BUFFALO", "TOPI"),
    "GAZELLETHOMSONS": ("GAZELLEGRANTS", "IMPALA"),
    "GAZELLEGRANTS": ("GAZELLETHOMSONS", "IMPALA"),
    "HARTEBEEST": ("TOPI",),
    "TOPI": ("HARTEBEEST",),
    "BUFFALO": ("WILDEBEEST",),
    "ELEPHANT": ("BUFFALO",),
    "IMPALA": ("GAZELLEGRANTS",),
    "WARTHOG": ("HYENASPOTTED",),
    "LIONFEMALE": ("HYENASPOTTED",),
    "HYENASPOTTED": ("LIONFEMALE", "WARTHOG"),
}
NOTHING_HERE = "NTHNGHR"
COUNT_QUESTION = "HOWMANY"
# The answer keys of Snapshot Serengeti's count buttons 1-10, 11-50 and 51+.
COUNT_ANSWERS = (*(str(n) for n in range(1, 11)), "1150", "51")
BEHAVIOUR_QUESTION = "WHATBEHAVIORSDOYOUSEE"
BEHAVIOURS = ("STANDING", "RESTING", "MOVING", "EATING", "INTERACTING")
YOUNG_QUESTION = "ARETHEREANYYOUNGPRESENT"
WORKFLOW_ID, WORKFLOW_NAME, WORKFLOW_VERSION = 4242, "Survey", "12.34"
START = datetime(2026, 5, 1, tzinfo=UTC)


def confusion_matrix(skill: float) -> npt.NDArray[np.float64]:
    """A volunteer's chance of each answer (columns) for each true species (rows).

    The diagonal is the skill; of the rest, 80 % goes to the species' look-alikes and 20 %
    spreads over all other species.
    """
    k = len(SPECIES)
    matrix = np.zeros((k, k))
    for i, species in enumerate(SPECIES):
        others = [j for j in range(k) if j != i]
        matrix[i, others] = (1 - skill) * 0.2 / len(others)
        alikes = [SPECIES.index(a) for a in LOOK_ALIKES[species]]
        matrix[i, alikes] += (1 - skill) * 0.8 / len(alikes)
        matrix[i, i] = skill
    return matrix


@dataclass
class SimulatedSurvey:
    """What was shown and what each classification said, before it becomes CSV."""

    truth: npt.NDArray[np.int64]
    """Each subject's species index, -1 for an empty frame."""
    truth_count: npt.NDArray[np.int64]
    """Each subject's count bucket index."""
    skills: npt.NDArray[np.float64]
    rows: list[dict[str, object]] = field(default_factory=list)


def simulate(**parameters: Any) -> SimulatedSurvey:
    """``simulation``'s survey with all its rows in memory (for tests' sizes)."""
    survey, rows = simulation(**parameters)
    survey.rows = list(rows)
    return survey


def simulation(
    *,
    subjects: int,
    votes: int,
    volunteers: int,
    skill_range: tuple[float, float] = (0.6, 0.95),
    blank_fraction: float = 0.0,
    second_species_fraction: float = 0.0,
    repeat_fraction: float = 0.0,
    anonymous_fraction: float = 0.0,
    gold_fraction: float = 0.0,
    seed: int = 20261206,
    first_subject_id: int = 70_000_000,
) -> tuple[SimulatedSurvey, Iterator[dict[str, object]]]:
    """``votes`` classifications a subject by volunteers of known skill, subject after
    subject; the rows come one at a time, so a million need no memory.

    ``repeat_fraction`` of the classifications are followed by the same volunteer classifying
    the same subject again later (a reload), which consensus must not count twice; the reload
    takes the place of the subject's last volunteer.
    """
    rng = np.random.default_rng(seed)
    k = len(SPECIES)
    skills = rng.uniform(*skill_range, size=volunteers)
    cumulative = np.cumsum(np.stack([confusion_matrix(s) for s in skills]), axis=2).tolist()
    truth = rng.integers(0, k, size=subjects)
    truth[rng.random(subjects) < blank_fraction] = -1
    truth_count = np.minimum(rng.geometric(0.35, size=subjects) - 1, len(COUNT_ANSWERS) - 1)
    second = np.where(
        rng.random(subjects) < second_species_fraction, rng.integers(0, k, subjects), -1
    )
    gold = (rng.random(subjects) < gold_fraction).tolist()
    anonymous = (rng.random(volunteers) < anonymous_fraction).tolist()
    survey = SimulatedSurvey(truth, truth_count, skills)
    # Every subject gets `votes` distinct volunteers: a random sample where that is cheap,
    # else evenly spaced ones from a random start (a million subjects in no memory).
    if subjects * volunteers <= 5_000_000:
        chosen = np.argsort(rng.random((subjects, volunteers)), axis=1)[:, :votes]
    else:
        step = max(1, volunteers // votes)
        start = rng.integers(0, volunteers, size=subjects)[:, None]
        chosen = (start + np.arange(votes) * step) % volunteers
    draws = rng.random((subjects, votes, 2)).tolist()
    noise = rng.integers(-1, 2, size=(subjects, votes)).tolist()
    behaviour_draws = rng.random((subjects, votes, len(BEHAVIOURS))).tolist()
    times = rng.integers(0, 86_400 * 60, size=(subjects, votes)).tolist()
    repeats = (rng.random((subjects, votes)) < repeat_fraction).tolist()
    chosen_lists, truth_list, second_list = chosen.tolist(), truth.tolist(), second.tolist()
    count_list, last_count = truth_count.tolist(), len(COUNT_ANSWERS) - 1

    def rows() -> Iterator[dict[str, object]]:
        classification_id = 600_000_000
        for s in range(subjects):
            species = [truth_list[s]] + ([second_list[s]] if second_list[s] >= 0 else [])
            emitted = 0
            for v in range(votes):
                if emitted == votes:
                    break
                volunteer = chosen_lists[s][v]
                marks: list[dict[str, object]] = []
                if truth_list[s] >= 0:
                    behaviour = behaviour_draws[s][v]
                    count = COUNT_ANSWERS[min(max(count_list[s] + noise[s][v], 0), last_count)]
                    for n, true in enumerate(species):
                        answer = bisect.bisect_left(cumulative[volunteer][true], draws[s][v][n])
                        marks.append(
                            {
                                "choice": SPECIES[min(answer, k - 1)],
                                "answers": {
                                    COUNT_QUESTION: count,
                                    BEHAVIOUR_QUESTION: [
                                        b
                                        for b, d in zip(BEHAVIOURS, behaviour, strict=True)
                                        if d < 0.3
                                    ],
                                    YOUNG_QUESTION: "YES" if behaviour[0] > 0.9 else "NO",
                                },
                                "filters": {},
                            }
                        )
                elif draws[s][v][0] < 0.5:
                    marks.append({"choice": NOTHING_HERE, "answers": {}, "filters": {}})
                created = START + timedelta(seconds=times[s][v])
                for again in range(2 if repeats[s][v] and emitted < votes - 1 else 1):
                    classification_id += 1
                    emitted += 1
                    yield {
                        "classification_id": classification_id,
                        "volunteer": volunteer,
                        "anonymous": anonymous[volunteer],
                        "created_at": created + timedelta(hours=again),
                        "gold_standard": gold[s],
                        "subject_id": first_subject_id + s,
                        # A second look at the same subject says something else.
                        "marks": marks
                        if again == 0
                        else [{"choice": SPECIES[0], "answers": {}, "filters": {}}],
                    }

    return survey, rows()


def export_rows(rows: Iterable[dict[str, object]]) -> Iterator[list[str]]:
    """The classifications as rows of Zooniverse's export, header first."""
    yield list(EXPORT_COLUMNS)
    for row in rows:
        volunteer = int(row["volunteer"])  # type: ignore[call-overload]
        subject_id = int(row["subject_id"])  # type: ignore[call-overload]
        created = row["created_at"]
        assert isinstance(created, datetime)
        anonymous = bool(row["anonymous"])
        metadata = {
            "source": "api",
            "session": f"{volunteer:064x}",
            "viewport": {"width": 1280, "height": 800},
            "started_at": (created - timedelta(seconds=30)).isoformat(),
            "finished_at": created.isoformat(),
            "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            "utc_offset": "0",
            "user_language": "en",
            "subject_dimensions": [{"naturalWidth": 2048, "naturalHeight": 1536}],
        }
        subject_data = {str(subject_id): {"retired": None, "#media_id": f"m-{subject_id}"}}
        yield [
            str(row["classification_id"]),
            f"not-logged-in-{volunteer:08x}" if anonymous else f"volunteer{volunteer}",
            "" if anonymous else str(1000 + volunteer),
            f"198.51.100.{volunteer % 250 + 1}",
            str(WORKFLOW_ID),
            WORKFLOW_NAME,
            WORKFLOW_VERSION,
            created.strftime("%Y-%m-%d %H:%M:%S UTC"),
            "true" if row["gold_standard"] else "",
            "",
            json.dumps(metadata, separators=(",", ":")),
            json.dumps([{"task": "T0", "value": row["marks"]}], separators=(",", ":")),
            json.dumps(subject_data, separators=(",", ":")),
            str(subject_id),
        ]


def export_text(survey: SimulatedSurvey) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(export_rows(survey.rows))
    return buffer.getvalue()


def write_export(rows: SimulatedSurvey | Iterable[dict[str, object]], path: Path) -> Path:
    """The export of a survey's rows (or of rows as ``simulation`` yields them) in a file."""
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(
            export_rows(rows.rows if isinstance(rows, SimulatedSurvey) else rows)
        )
    return path
