"""Plurality consensus, as Snapshot Serengeti computed it (Swanson et al. 2015, 2016).

For each subject, over one classification per volunteer:

1. Classifications with no species ("nothing here") are blanks; they are counted and set
   aside. A subject whose classifications are all blank is blank.
2. The number of species in the subject is the median, rounded up, of the number of
   species each non-blank classification reported.
3. Species are ranked by votes (the classifications that named them); the top that-many
   win. Ties at the cut are broken at random (seeded, so reruns agree).
4. Each winner's count is the median bucket, rounded up, of the counts its voters gave.
5. Certainty: each winner's fraction of support (its votes over the non-blank
   classifications), the subject's Pielou evenness of the votes over all species named
   (0 when one species was named: full agreement), and the fraction of blanks.

"Rounded up" takes the upper of the two middle values of an even-sized list, as the
published scripts describe it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from wildlens.citsci.aggregation.count_buckets import SERENGETI_BUCKETS, CountBuckets
from wildlens.citsci.aggregation.survey_votes import SurveyVotes

__all__ = ["PluralityConsensus", "SpeciesConsensus", "SubjectConsensus", "plurality_consensus"]

Int = npt.NDArray[np.int64]
Float = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SpeciesConsensus:
    choice: str
    votes: int
    fraction_support: float
    count_min: str | None
    count_median: str | None
    count_max: str | None


@dataclass(frozen=True, slots=True)
class SubjectConsensus:
    subject_id: int
    classifications: int
    blanks: int
    fraction_blank: float
    votes: int
    pielou_evenness: float
    species: tuple[SpeciesConsensus, ...]

    @property
    def blank(self) -> bool:
        return not self.species


@dataclass(frozen=True)
class PluralityConsensus:
    """Per subject (index into ``votes.subject_ids``) and per winning species, as arrays."""

    votes: SurveyVotes
    classifications: Int
    blanks: Int
    species_votes: Int
    """All non-blank votes the subject got (a classification naming two species gives two)."""
    number_of_species: Int
    pielou_evenness: Float
    winner_subject: Int
    winner_rank: Int
    winner_choice: Int
    winner_votes: Int
    winner_support: Float
    winner_count: Int
    """Median count bucket (ordinal), -1 where none of its voters gave a count."""
    winner_count_min: Int
    winner_count_max: Int
    buckets: CountBuckets

    @property
    def fraction_blank(self) -> Float:
        return self.blanks / np.maximum(self.classifications, 1)

    def subjects(self) -> list[SubjectConsensus]:
        """The consensus of each subject as objects, in subject index order."""
        starts = np.searchsorted(self.winner_subject, np.arange(self.votes.n_subjects + 1))
        labels = self.buckets.labels
        choices = self.votes.choices

        def bucket(ordinal: int) -> str | None:
            return labels[ordinal] if ordinal >= 0 else None

        result = []
        fraction_blank = self.fraction_blank
        for s in range(self.votes.n_subjects):
            species = tuple(
                SpeciesConsensus(
                    choices[int(self.winner_choice[w])],
                    int(self.winner_votes[w]),
                    float(self.winner_support[w]),
                    bucket(int(self.winner_count_min[w])),
                    bucket(int(self.winner_count[w])),
                    bucket(int(self.winner_count_max[w])),
                )
                for w in range(starts[s], starts[s + 1])
            )
            result.append(
                SubjectConsensus(
                    int(self.votes.subject_ids[s]),
                    int(self.classifications[s]),
                    int(self.blanks[s]),
                    float(fraction_blank[s]),
                    int(self.species_votes[s]),
                    float(self.pielou_evenness[s]),
                    species,
                )
            )
        return result


def _group_starts(sorted_keys: Int) -> Int:
    """Where each run of equal keys begins in a sorted array."""
    if sorted_keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.flatnonzero(sorted_keys[1:] != sorted_keys[:-1]) + 1
    return np.concatenate(([0], change)).astype(np.int64)


def plurality_consensus(
    votes: SurveyVotes,
    *,
    count_question: str | None = "HOWMANY",
    buckets: CountBuckets = SERENGETI_BUCKETS,
    seed: int = 0,
) -> PluralityConsensus:
    """Snapshot Serengeti's plurality consensus of every subject in the votes.

    Args:
        votes: one survey task's votes; pass ``votes.first_per_volunteer()`` to count each
            volunteer once per subject, as Snapshot Serengeti did.
        count_question: the survey question whose answers are count buckets.
        buckets: the count buckets in order.
        seed: for breaking ties between equally voted species at the cut.
    """
    n_subjects = votes.n_subjects
    n_choices = max(len(votes.choices), 1)
    blank_choice = votes.blank_choice_mask()
    # One vote per species per classification, "nothing here" marks not votes.
    real = ~blank_choice[votes.mark_choice] if blank_choice.size else np.ones(0, dtype=bool)
    pair = votes.mark_classification[real] * n_choices + votes.mark_choice[real]
    pair = np.unique(pair)
    vote_classification, vote_choice = pair // n_choices, pair % n_choices
    vote_subject = votes.subject[vote_classification]

    classifications = np.bincount(votes.subject, minlength=n_subjects).astype(np.int64)
    species_per_classification = np.bincount(vote_classification, minlength=votes.n_classifications)
    is_blank = species_per_classification == 0
    blanks = np.bincount(votes.subject, weights=is_blank, minlength=n_subjects).astype(np.int64)

    # 2. the median (rounded up) number of species over non-blank classifications
    non_blank = np.flatnonzero(~is_blank)
    order = np.lexsort((species_per_classification[non_blank], votes.subject[non_blank]))
    ranked_subjects = votes.subject[non_blank][order]
    ranked_species = species_per_classification[non_blank][order]
    starts = _group_starts(ranked_subjects)
    sizes = np.diff(np.append(starts, ranked_subjects.size))
    number_of_species = np.zeros(n_subjects, dtype=np.int64)
    number_of_species[ranked_subjects[starts]] = ranked_species[starts + sizes // 2]

    # 3. votes per (subject, species), ranked within each subject
    key, species_votes_per_pair = np.unique(
        vote_subject * n_choices + vote_choice, return_counts=True
    )
    pair_subject, pair_choice = key // n_choices, key % n_choices
    tie_breaker = np.random.default_rng(seed).random(key.size)
    order = np.lexsort((tie_breaker, -species_votes_per_pair, pair_subject))
    pair_subject, pair_choice = pair_subject[order], pair_choice[order]
    pair_votes = species_votes_per_pair[order]
    starts = _group_starts(pair_subject)
    sizes = np.diff(np.append(starts, pair_subject.size))
    rank = np.arange(pair_subject.size) - np.repeat(starts, sizes)
    species_votes = np.bincount(pair_subject, weights=pair_votes, minlength=n_subjects).astype(
        np.int64
    )

    # 5. Pielou evenness over all species named: H' / ln S, 0 for a single species
    total = species_votes[pair_subject].astype(np.float64)
    p = pair_votes / np.maximum(total, 1)
    shannon = np.bincount(pair_subject, weights=-p * np.log(p), minlength=n_subjects)
    richness = np.bincount(pair_subject, minlength=n_subjects)
    with np.errstate(divide="ignore", invalid="ignore"):
        pielou = np.where(richness > 1, shannon / np.log(np.maximum(richness, 2)), 0.0)

    winners = rank < number_of_species[pair_subject]
    winner_subject = pair_subject[winners]
    winner_choice = pair_choice[winners]
    winner_votes = pair_votes[winners].astype(np.int64)
    non_blank_per_subject = classifications - blanks
    winner_support = winner_votes / np.maximum(non_blank_per_subject[winner_subject], 1)

    # 4. median (rounded up), min and max count bucket of each winner's voters
    winner_count = np.full(winner_subject.size, -1, dtype=np.int64)
    winner_min = winner_count.copy()
    winner_max = winner_count.copy()
    column = votes.answers.get(count_question) if count_question else None
    if column is not None and winner_subject.size:
        ordinal_of_value = buckets.ordinals(column.values)
        mark_choice = votes.mark_choice[column.mark]
        mark_subject = votes.subject[votes.mark_classification[column.mark]]
        winner_key = winner_subject * n_choices + winner_choice
        by_key = np.argsort(winner_key)
        sorted_keys = winner_key[by_key]
        count_key = mark_subject * n_choices + mark_choice
        found = np.minimum(np.searchsorted(sorted_keys, count_key), sorted_keys.size - 1)
        hit = sorted_keys[found] == count_key
        slot, ordinal = by_key[found[hit]], ordinal_of_value[column.answer[hit]]
        order = np.lexsort((ordinal, slot))
        slot, ordinal = slot[order], ordinal[order]
        starts = _group_starts(slot)
        sizes = np.diff(np.append(starts, slot.size))
        winner_count[slot[starts]] = ordinal[starts + sizes // 2]
        winner_min[slot[starts]] = ordinal[starts]
        winner_max[slot[starts]] = ordinal[starts + sizes - 1]

    return PluralityConsensus(
        votes=votes,
        classifications=classifications,
        blanks=blanks,
        species_votes=species_votes,
        number_of_species=number_of_species,
        pielou_evenness=pielou,
        winner_subject=winner_subject,
        winner_rank=rank[winners],
        winner_choice=winner_choice,
        winner_votes=winner_votes,
        winner_support=winner_support,
        winner_count=winner_count,
        winner_count_min=winner_min,
        winner_count_max=winner_max,
        buckets=buckets,
    )
