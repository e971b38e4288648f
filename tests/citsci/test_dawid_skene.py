"""Skill-weighted consensus: our Dawid-Skene equals crowd-kit's, and it earns its keep."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
import pytest
from crowdkit.aggregation import DawidSkene

from tests.citsci.zooniverse_exports import SPECIES, SimulatedSurvey, export_text, simulate
from wildlens.citsci.aggregation import (
    SurveyVotes,
    dawid_skene,
    gold_accuracy,
    gold_error_counts,
    plurality_consensus,
    read_survey_votes,
)


def single_species_votes(votes: SurveyVotes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(subject, volunteer, choice) of each classification's mark (one species each here)."""
    return (
        votes.subject[votes.mark_classification],
        votes.volunteer[votes.mark_classification],
        votes.mark_choice,
    )


def true_choices(survey: SimulatedSurvey, votes: SurveyVotes) -> np.ndarray:
    """The true species of each subject index, as an index into ``votes.choices``."""
    species = np.array([votes.choices.index(SPECIES[t]) for t in survey.truth])
    truth: np.ndarray = species[votes.subject_ids - votes.subject_ids.min()]
    return truth


def crowd_kit(
    task: np.ndarray,
    worker: np.ndarray,
    label: np.ndarray,
    **fit: object,
) -> DawidSkene:
    data = pd.DataFrame({"task": task, "worker": worker, "label": label})
    model = DawidSkene(
        n_iter=100, tol=1e-5, initial_error_strategy="addition" if "initial_error" in fit else None
    )
    # crowd-kit 1.4.2 still passes pandas arguments that pandas 3 deprecates.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(data, **fit)
    return model


def as_array(probas: pd.DataFrame, tasks: np.ndarray, classes: np.ndarray) -> np.ndarray:
    values: np.ndarray = probas.loc[tasks, list(classes)].to_numpy(dtype=float)
    return values


@pytest.fixture(scope="module")
def simulated() -> tuple[SimulatedSurvey, SurveyVotes]:
    survey = simulate(subjects=2000, votes=5, volunteers=50, skill_range=(0.6, 0.95), seed=18)
    return survey, read_survey_votes(io.StringIO(export_text(survey)))


def test_equals_crowd_kit_on_the_same_votes(simulated: tuple[SimulatedSurvey, SurveyVotes]) -> None:
    _, votes = simulated
    task, worker, label = single_species_votes(votes)
    ours = dawid_skene(task, worker, label)
    theirs = crowd_kit(task, worker, label)
    assert ours.iterations == len(theirs.loss_history_)
    np.testing.assert_allclose(ours.loss_history, theirs.loss_history_, rtol=1e-12, atol=1e-12)
    # crowd-kit floors its returned probabilities at 1e-10 after the last step.
    np.testing.assert_allclose(
        np.maximum(ours.probabilities, 1e-10),
        as_array(theirs.probas_, ours.tasks, ours.classes),
        atol=1e-12,
    )
    assert theirs.priors_ is not None
    assert theirs.errors_ is not None
    assert theirs.labels_ is not None
    np.testing.assert_allclose(
        ours.priors, theirs.priors_.loc[list(ours.classes)].to_numpy(dtype=float), atol=1e-12
    )
    errors = theirs.errors_
    for w in (0, 17, 49):
        expected = np.zeros((ours.classes.size, ours.classes.size))
        mine = errors.loc[w]
        for observed in mine.index:
            row = int(np.searchsorted(ours.classes, observed))
            expected[row] = mine.loc[observed, list(ours.classes)].to_numpy()
        np.testing.assert_allclose(ours.confusion(w), expected, atol=1e-12)
    assert (ours.labels == theirs.labels_.loc[ours.tasks].to_numpy()).all()


def test_equals_crowd_kit_with_the_gold_standard_held_and_seeding_skills(
    simulated: tuple[SimulatedSurvey, SurveyVotes],
) -> None:
    survey, votes = simulated
    task, worker, label = single_species_votes(votes)
    truth = true_choices(survey, votes)
    # An expert validated every tenth subject.
    gold = {s: int(truth[s]) for s in range(0, votes.n_subjects, 10)}
    ours = dawid_skene(task, worker, label, gold=gold)
    theirs = crowd_kit(task, worker, label, true_labels=pd.Series(gold))
    assert ours.iterations == len(theirs.loss_history_)
    np.testing.assert_allclose(
        np.maximum(ours.probabilities, 1e-10),
        as_array(theirs.probas_, ours.tasks, ours.classes),
        atol=1e-12,
    )

    # Volunteers' earlier work on gold subjects seeds their confusion matrices.
    earlier = task < 400
    counts = gold_error_counts(task[earlier], worker[earlier], label[earlier], gold)
    later = ~earlier
    ours = dawid_skene(task[later], worker[later], label[later], initial_errors=counts)
    table = (
        pd.DataFrame({"worker": counts.worker, "label": counts.observed, "true": counts.true})
        .value_counts()
        .unstack("true", fill_value=0)
        .astype(float)
    )
    theirs = crowd_kit(task[later], worker[later], label[later], initial_error=table)
    assert ours.iterations == len(theirs.loss_history_)
    np.testing.assert_allclose(
        np.maximum(ours.probabilities, 1e-10),
        as_array(theirs.probas_, ours.tasks, ours.classes),
        atol=1e-12,
    )


def test_dawid_skene_is_at_least_as_accurate_as_plurality_and_both_beat_one_volunteer(
    simulated: tuple[SimulatedSurvey, SurveyVotes],
) -> None:
    survey, votes = simulated
    truth_by_index = true_choices(survey, votes)
    task, worker, label = single_species_votes(votes)

    ds = dawid_skene(task, worker, label)
    ds_accuracy = float(np.mean(ds.labels == truth_by_index[ds.tasks]))

    plurality = plurality_consensus(votes, count_question=None)
    assert (np.bincount(plurality.winner_subject) == 1).all()
    plurality_accuracy = float(
        np.mean(plurality.winner_choice == truth_by_index[plurality.winner_subject])
    )

    first = np.unique(votes.subject, return_index=True)[1]
    single_accuracy = float(
        np.mean(votes.mark_choice[first] == truth_by_index[votes.subject[first]])
    )

    print(
        f"accuracy: Dawid-Skene {ds_accuracy:.4f}, plurality {plurality_accuracy:.4f}, "
        f"one volunteer {single_accuracy:.4f}"
    )
    assert ds_accuracy >= plurality_accuracy
    assert plurality_accuracy > single_accuracy + 0.05
    assert ds_accuracy > 0.9

    # The estimated skills follow the simulated ones.
    skill = ds.skill(len(votes.volunteers))
    simulated_skill = np.array(
        [survey.skills[int(v.split(":")[1]) - 1000] for v in votes.volunteers]
    )
    assert np.corrcoef(skill, simulated_skill)[0, 1] > 0.9

    # Accuracy on gold subjects is the plain fraction right.
    gold = {int(s): int(truth_by_index[s]) for s in range(0, votes.n_subjects, 5)}
    accuracy, seen = gold_accuracy(task, worker, label, gold, len(votes.volunteers))
    assert seen.sum() == sum(1 for t in task if int(t) in gold)
    assert np.corrcoef(accuracy, simulated_skill)[0, 1] > 0.7
