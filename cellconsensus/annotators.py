"""Annotator reliability: one row per annotator, read off a consensus.

Every figure is measured against the consensus itself (its cells and their
class probabilities), so it works with any strategy, label model and label set;
with few votes the rates are noisy, which is why the counts they come from are in
the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .tables import cells_vocabulary, class_proba

if TYPE_CHECKING:
    from .result import Consensus

__all__ = ["annotator_table", "ANNOTATOR_COLUMNS"]

#: Columns of :func:`annotator_table`, in order (for alive / dead; another label set has
#: ``recall_<class>`` per class in place of ``sensitivity`` and ``specificity``).
ANNOTATOR_COLUMNS: tuple[str, ...] = (
    "clicks",
    "votes",
    "images",
    "sensitivity",
    "specificity",
    "unsure_rate",
    "detection_rate",
    "stray_click_rate",
    "spammer_score",
)


def _ratio(numerator: np.ndarray, denominator: np.ndarray, at_least: float = 1e-12) -> np.ndarray:
    """``numerator / denominator``, NaN where the denominator is below ``at_least``."""
    return np.divide(
        numerator,
        denominator,
        out=np.full(len(numerator), np.nan),
        where=denominator >= at_least,
    )


def annotator_table(result: Consensus) -> pd.DataFrame:
    """Reliability of every annotator of a consensus.

    Parameters
    ----------
    result : Consensus
        The output of :func:`~cellconsensus.find_consensus`.

    Returns
    -------
    DataFrame
        Indexed by ``annotator_id`` (sorted), with columns:

        ``clicks``
            All the annotator's clicks.
        ``votes``
            Clicks that are a vote on a consensus cell.
        ``images``
            Images the annotator clicked on.
        ``sensitivity``, ``specificity``
            P(answer alive | cell alive) and P(answer dead | cell dead), each
            vote weighted by its cell's ``p_alive`` (resp. ``1 - p_alive``);
            ``unsure`` answers left out. NaN with less than one cell's worth
            of such votes (the weights summing to under 1). For any other label
            set, ``recall_<class>`` per class instead: P(answer c | cell c),
            each vote weighted by its cell's ``p_<c>``.
        ``unsure_rate``
            Share of votes answered ``unsure``.
        ``detection_rate``
            Share of the consensus cells on the annotator's images that they
            clicked.
        ``stray_click_rate``
            Share of clicks in no cell (noise, a second click on one cell, or
            a cell the support filters dropped).
        ``spammer_score``
            ``|sensitivity + specificity - 1|`` (Raykar & Yu, 2012): 0 for
            answers independent of the cell (a spammer, whatever their
            rates), 1 for a perfect annotator (or a perfectly inverted one);
            NaN where either rate is. For K classes: ``|mean recall - 1/K| *
            K / (K - 1)``, the same for two (0 for answers independent of the
            cell, 1 for a perfect annotator).

    Examples
    --------
    >>> from cellconsensus import find_consensus, make_truth, simulate_crowd
    >>> clicks = simulate_crowd(make_truth(30, seed=0), 5, seed=0, spammer_fraction=0.2)
    >>> table = annotator_table(find_consensus(clicks))
    >>> list(table.columns) == list(ANNOTATOR_COLUMNS)
    True
    >>> three = make_truth(30, mitotic_fraction=0.3, seed=0)
    >>> list(annotator_table(find_consensus(simulate_crowd(three, 5, seed=0))).columns[3:6])
    ['recall_alive', 'recall_dead', 'recall_mitotic']
    >>> bool(table["votes"].le(table["clicks"]).all())
    True
    """
    cells = result.cells
    vocabulary = cells_vocabulary(cells)
    k = vocabulary.n_classes
    clicks = result.assignments
    annotators, code = np.unique(clicks["annotator_id"].astype(str).to_numpy(), return_inverse=True)
    n = len(annotators)
    in_cell = clicks["cell_id"].to_numpy() >= 0
    answer = vocabulary.codes(clicks["label"])
    image = clicks["image_id"].astype(str).to_numpy()

    cell_key = pd.MultiIndex.from_arrays([cells["image_id"].astype(str), cells["cell_id"]])
    vote_key = pd.MultiIndex.from_arrays([image[in_cell], clicks["cell_id"].to_numpy()[in_cell]])
    proba = class_proba(cells, vocabulary)[cell_key.get_indexer(vote_key)]
    voter, vote_answer = code[in_cell], answer[in_cell]

    def weighted(weight: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return np.bincount(voter[mask], weights=weight[mask], minlength=n)

    decided = (vote_answer >= 0) & (vote_answer < k)
    # At least one cell's worth of evidence: an annotator who only met alive cells has no
    # specificity (not a specificity of 0).
    recall = {
        name: _ratio(weighted(proba[:, c], vote_answer == c), weighted(proba[:, c], decided), 1.0)
        for c, name in enumerate(vocabulary.classes)
    }
    votes = np.bincount(voter, minlength=n)
    if vocabulary.is_alive_dead:
        rates = {"sensitivity": recall["alive"], "specificity": recall["dead"]}
    else:
        rates = {f"recall_{name}": values for name, values in recall.items()}
    # Raykar & Yu's |sensitivity + specificity - 1|, for K classes: the mean recall's
    # distance from chance (1/K), scaled to 1 for a perfect annotator.
    mean_recall = np.mean(list(recall.values()), axis=0)

    # Consensus cells on each annotator's images (images with several clicks counted once).
    pairs = pd.DataFrame({"annotator": code, "image": image}).drop_duplicates()
    per_image = cells["image_id"].astype(str).value_counts()
    cells_seen = np.bincount(
        pairs["annotator"],
        weights=per_image.reindex(pairs["image"]).fillna(0).to_numpy(),
        minlength=n,
    )
    table = pd.DataFrame(
        {
            "clicks": np.bincount(code, minlength=n),
            "votes": votes,
            "images": np.bincount(pairs["annotator"], minlength=n),
            **rates,
            "unsure_rate": _ratio(np.bincount(voter[~decided], minlength=n).astype(float), votes),
            "detection_rate": _ratio(votes.astype(float), cells_seen),
            "stray_click_rate": _ratio(
                np.bincount(code[~in_cell], minlength=n).astype(float),
                np.bincount(code, minlength=n).astype(float),
            ),
            "spammer_score": np.abs(mean_recall - 1.0 / k) * k / (k - 1),
        },
        index=pd.Index(annotators, name="annotator_id"),
    )
    return table
