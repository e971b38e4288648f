"""Skill-weighted consensus: Dawid and Skene's EM over volunteers' confusion matrices.

Each volunteer ``w`` has a confusion matrix ``e[w][observed, true]`` (the chance of answering
``observed`` when the subject shows ``true``) and the classes a prior ``p``. EM alternates:

* E-step: each subject's posterior over the true class, ``p[c] * prod_votes e[w][answer, c]``
  (in logs, shifted by the row's maximum before exponentiating);
* M-step: each volunteer's matrix from those posteriors, ``p`` as their mean.

It starts from the majority vote, stops when the evidence lower bound per vote improves by
less than ``tol`` (or after ``n_iter`` rounds), and follows crowd-kit's ``DawidSkene``
(1.4.2) step for step, so that both give the same numbers on the same data: confusion entries
exist only for the answers a volunteer gave and are floored at 1e-10; priors are floored the
same way. The test suite checks the equality.

The gold standard enters twice, both optional: subjects whose true class an expert knows keep
that class as their posterior in every round (crowd-kit's ``true_labels``), and volunteers'
earlier answers on gold-standard subjects can seed their matrices (``initial_errors``,
crowd-kit's ``addition`` strategy). ``gold_accuracy`` is the plain per-volunteer accuracy
on gold subjects.

Everything runs over the distinct (volunteer, answer) pairs, not dense volunteer-by-class-by-
class arrays, so memory grows with the votes, not with volunteers times classes squared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["DawidSkeneResult", "ErrorCounts", "dawid_skene", "gold_accuracy", "gold_error_counts"]

Int = npt.NDArray[np.int64]
Float = npt.NDArray[np.float64]
EPSILON = 1e-10


@dataclass(frozen=True)
class ErrorCounts:
    """Counts of (volunteer, answer given, true class), e.g. from earlier gold-standard work."""

    worker: Int
    observed: Int
    true: Int
    count: Float


@dataclass(frozen=True)
class DawidSkeneResult:
    tasks: Int
    """The task (subject) ids, in the order of ``probabilities``' rows."""
    classes: Int
    """The class labels, in the order of ``probabilities``' columns."""
    probabilities: Float
    priors: Float
    pair_worker: Int
    pair_label: Int
    """Each (volunteer, answer) pair, answers as column indexes into ``classes``."""
    pair_errors: Float
    """``pair_errors[i, c]``: the chance that pair i's volunteer gives pair i's answer when the
    truth is class c."""
    iterations: int
    loss_history: list[float]

    @property
    def labels(self) -> Int:
        """The most probable class of each task."""
        labels: Int = self.classes[np.argmax(self.probabilities, axis=1)]
        return labels

    def skill(self, n_workers: int) -> Float:
        """Each volunteer's expected accuracy, ``sum_c p[c] * e[w][c, c]``."""
        diagonal = self.pair_errors[np.arange(self.pair_label.size), self.pair_label]
        skill = np.bincount(
            self.pair_worker,
            weights=self.priors[self.pair_label] * diagonal,
            minlength=n_workers,
        )
        return skill.astype(np.float64)

    def confusion(self, worker: int) -> Float:
        """The volunteer's matrix ``[answer, true class]``; zero for answers never given."""
        k = self.classes.size
        matrix = np.zeros((k, k))
        mine = self.pair_worker == worker
        matrix[self.pair_label[mine]] = self.pair_errors[mine]
        return matrix


def _segment_sums(values: Float, order: Int, starts: Int) -> Float:
    """Row sums of ``values`` per group, the rows grouped by ``order`` and ``starts``."""
    return np.add.reduceat(values[order], starts, axis=0)


def _starts(sorted_keys: Int) -> Int:
    change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate(([0], change)).astype(np.int64)


def dawid_skene(
    task: Int,
    worker: Int,
    label: Int,
    *,
    gold: Mapping[int, int] | None = None,
    initial_errors: ErrorCounts | None = None,
    n_iter: int = 100,
    tol: float = 1e-5,
) -> DawidSkeneResult:
    """Dawid-Skene posteriors of every task's class from the votes (one row per vote).

    Args:
        task, worker, label: parallel integer arrays, one entry per vote.
        gold: the true class of gold-standard tasks, held fixed at every step.
        initial_errors: counts added to the volunteers' first confusion estimate.
        n_iter: the most EM rounds.
        tol: stop when the evidence lower bound per vote improves by less.
    """
    task, worker, label = (np.asarray(a, dtype=np.int64) for a in (task, worker, label))
    if not (task.size == worker.size == label.size):
        raise ValueError("task, worker and label must have one entry per vote")
    if task.size == 0:
        raise ValueError("no votes to aggregate")
    tasks, t = np.unique(task, return_inverse=True)
    classes, k_of = np.unique(label, return_inverse=True)
    n_tasks, n_classes = tasks.size, classes.size

    gold_rows = gold_columns = np.zeros(0, dtype=np.int64)
    if gold:
        gold_task = np.fromiter(gold.keys(), dtype=np.int64, count=len(gold))
        gold_label = np.fromiter(gold.values(), dtype=np.int64, count=len(gold))
        present = np.isin(gold_task, tasks)
        unknown = ~np.isin(gold_label[present], classes)
        if unknown.any():
            raise ValueError("a gold-standard class is not among the classes volunteers gave")
        gold_rows = np.searchsorted(tasks, gold_task[present])
        gold_columns = np.searchsorted(classes, gold_label[present])

    def correct(probabilities: Float) -> Float:
        if gold_rows.size:
            probabilities[gold_rows] = 0.0
            probabilities[gold_rows, gold_columns] = 1.0
        return probabilities

    pair_key, pair_of_vote = np.unique(worker * n_classes + k_of, return_inverse=True)
    pair_worker, pair_label = pair_key // n_classes, pair_key % n_classes
    workers, pair_worker_index = np.unique(pair_worker, return_inverse=True)
    by_task = np.argsort(t, kind="stable")
    task_starts = _starts(t[by_task])
    by_pair = np.argsort(pair_of_vote, kind="stable")
    pair_starts = _starts(pair_of_vote[by_pair])
    by_worker_pair = np.argsort(pair_worker_index, kind="stable")
    worker_pair_starts = _starts(pair_worker_index[by_worker_pair])

    def m_step(probabilities: Float, extra: ErrorCounts | None = None) -> Float:
        counts = _segment_sums(probabilities[t], by_pair, pair_starts)
        extra_norm = np.zeros((workers.size, n_classes))
        if extra is not None:
            counts, extra_norm = _add_initial(counts, extra, pair_key, workers, classes, n_classes)
        counts = np.maximum(counts, EPSILON)
        norm = _segment_sums(counts, by_worker_pair, worker_pair_starts) + extra_norm
        return counts / norm[pair_worker_index]

    def e_step(priors: Float, errors: Float) -> Float:
        log_errors = np.log(errors)
        log_likelihood = np.log(np.maximum(priors, EPSILON)) + _segment_sums(
            log_errors[pair_of_vote], by_task, task_starts
        )
        scaled: Float = np.exp(log_likelihood - log_likelihood.max(axis=1, keepdims=True))
        posterior: Float = scaled / scaled.sum(axis=1, keepdims=True)
        return posterior

    def lower_bound(probabilities: Float, priors: Float, errors: Float) -> float:
        log_terms = np.log(errors)[pair_of_vote] + np.log(np.maximum(priors, EPSILON))
        joint = float(np.sum(probabilities[t] * log_terms))
        clipped = np.maximum(probabilities, EPSILON)
        entropy = -float(np.sum(np.log(clipped) * clipped))
        return (joint + entropy) / task.size

    majority = np.bincount(t * n_classes + k_of, minlength=n_tasks * n_classes).reshape(
        n_tasks, n_classes
    )
    probabilities = correct(majority / majority.sum(axis=1, keepdims=True))
    priors = probabilities.mean(axis=0)
    errors = m_step(probabilities, initial_errors)
    loss, history = -np.inf, []
    for _ in range(n_iter):
        probabilities = correct(e_step(priors, errors))
        priors = probabilities.mean(axis=0)
        errors = m_step(probabilities)
        new_loss = lower_bound(probabilities, priors, errors)
        history.append(new_loss)
        if new_loss - loss < tol:
            break
        loss = new_loss
    return DawidSkeneResult(
        tasks=tasks,
        classes=classes,
        probabilities=probabilities,
        priors=np.maximum(priors, EPSILON),
        pair_worker=pair_worker,
        pair_label=pair_label,
        pair_errors=errors,
        iterations=len(history),
        loss_history=history,
    )


def _add_initial(
    counts: Float,
    extra: ErrorCounts,
    pair_key: Int,
    workers: Int,
    classes: Int,
    n_classes: int,
) -> tuple[Float, Float]:
    """Adds earlier counts to this data's pairs; returns too what pairs absent here add to
    each volunteer's normaliser (crowd-kit keeps such rows, floored, in the first estimate)."""
    known = np.isin(extra.observed, classes) & np.isin(extra.true, classes)
    observed = np.searchsorted(classes, extra.observed[known])
    true = np.searchsorted(classes, extra.true[known])
    worker, count = extra.worker[known], extra.count[known]
    key = worker * n_classes + observed
    counts = counts.copy()
    position = np.minimum(np.searchsorted(pair_key, key), pair_key.size - 1)
    here = pair_key[position] == key
    np.add.at(counts, (position[here], true[here]), count[here])
    extra_norm = np.zeros((workers.size, n_classes))
    elsewhere = ~here & np.isin(worker, workers)
    if elsewhere.any():
        rows, row_of = np.unique(key[elsewhere], return_inverse=True)
        table = np.zeros((rows.size, n_classes))
        np.add.at(table, (row_of, true[elsewhere]), count[elsewhere])
        row_worker = np.searchsorted(workers, rows // n_classes)
        np.add.at(extra_norm, row_worker, np.maximum(table, EPSILON))
    return counts, extra_norm


def gold_error_counts(task: Int, worker: Int, label: Int, gold: Mapping[int, int]) -> ErrorCounts:
    """Volunteers' answers on gold-standard tasks as confusion counts (for ``initial_errors``)."""
    task, worker, label = (np.asarray(a, dtype=np.int64) for a in (task, worker, label))
    truth = np.array([gold.get(int(x), -1) for x in task], dtype=np.int64)
    on_gold = truth >= 0
    return ErrorCounts(
        worker=worker[on_gold],
        observed=label[on_gold],
        true=truth[on_gold],
        count=np.ones(int(on_gold.sum())),
    )


def gold_accuracy(
    task: Int, worker: Int, label: Int, gold: Mapping[int, int], n_workers: int
) -> tuple[Float, Int]:
    """Each volunteer's accuracy on gold-standard tasks and how many they answered (NaN: none)."""
    counts = gold_error_counts(task, worker, label, gold)
    seen = np.bincount(counts.worker, minlength=n_workers)
    right = np.bincount(counts.worker, weights=counts.observed == counts.true, minlength=n_workers)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen > 0, right / np.maximum(seen, 1), np.nan), seen.astype(np.int64)
