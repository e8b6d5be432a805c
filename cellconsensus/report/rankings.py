"""Images ranked for a look: by need of another annotator, by errors against the truth, and
the gallery's choice among the rankings."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..disagreement import cell_doubt
from ..metrics import score
from ..tables import count_runs, encode_clicks, image_ids_of

__all__ = ["need_ranking", "errors_per_image", "choose_images"]


def need_ranking(cells: pd.DataFrame, clicks: pd.DataFrame) -> pd.DataFrame:
    """Images ranked by how much another annotator would help (a first, simple measure).

    Per image: its annotators (runs), its cells, the cells in doubt (doubt above
    0.5, :func:`~cellconsensus.disagreement.cell_doubt`) and ``need``, the summed
    doubt of its cells divided by its annotators (the doubt one more annotator
    would share), images with a single annotator counting each cell as a coin flip
    (one volunteer's word is never a consensus). Highest need first.

    Examples
    --------
    >>> from cellconsensus import find_consensus, make_truth, simulate_crowd
    >>> clicks = simulate_crowd(make_truth(3, seed=0), 3, seed=0)
    >>> table = need_ranking(find_consensus(clicks).cells, clicks)
    >>> list(table.columns)
    ['image_id', 'annotators', 'cells', 'cells_in_doubt', 'need']
    """
    table, codes = encode_clicks(clicks.drop(columns=["run_id"], errors="ignore"))
    clicked, empty, _ = count_runs(codes, clicks.attrs.get("runs"))
    runs = pd.Series(clicked + empty, index=codes.images.astype(str))
    doubt = cell_doubt(cells)["doubt"]
    ids = cells["image_id"].astype(str)
    per_image = pd.DataFrame({"image_id": ids, "doubt": doubt.to_numpy()})
    grouped = per_image.groupby("image_id")["doubt"]
    out = pd.DataFrame({"annotators": runs})
    out["cells"] = grouped.size().reindex(out.index, fill_value=0)
    in_doubt = (per_image["doubt"] > 0.5).groupby(per_image["image_id"]).sum()
    out["cells_in_doubt"] = in_doubt.reindex(out.index, fill_value=0).astype(int)
    summed = grouped.sum().reindex(out.index, fill_value=0.0)
    single = out["annotators"] <= 1
    out["need"] = np.where(single, out["cells"].astype(float), summed) / out["annotators"].clip(
        lower=1
    )
    out = out.rename_axis("image_id").reset_index()
    return out.sort_values(
        ["need", "image_id"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def choose_images(ids: list[str], rankings: Iterable[pd.DataFrame], max_images: int) -> list[str]:
    """The images a report draws: the top of each ranking in turn, then the rest by id."""
    chosen: list[str] = []
    tops = [list(r["image_id"].astype(str)) for r in rankings]
    for k in range(max(map(len, tops), default=0)):
        for top in tops:
            if k < len(top) and top[k] not in chosen and len(chosen) < max_images:
                chosen.append(top[k])
    for image_id in ids:
        if len(chosen) >= max_images:
            break
        if image_id not in chosen:
            chosen.append(image_id)
    return chosen


def errors_per_image(cells: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per image: true cells missed, extra cells, wrong labels; most errors first."""
    s = score(cells, truth)
    matches = s.matches
    ids = [str(i) for i in image_ids_of(truth)]
    n_true = truth["image_id"].astype(str).value_counts().reindex(ids, fill_value=0)
    n_cells = cells["image_id"].astype(str).value_counts().reindex(ids, fill_value=0)
    tp = matches.groupby(matches["image_id"].astype(str)).size().reindex(ids, fill_value=0)
    wrong = pd.Series(0, index=pd.Index(ids))
    if len(matches):
        predicted = cells["label"].astype(str).to_numpy()[matches["cell"].to_numpy()]
        actual = truth["label"].astype(str).to_numpy()[matches["truth"].to_numpy()]
        bad = pd.Series(predicted != actual, index=matches["image_id"].astype(str))
        wrong = bad.groupby(level=0).sum().reindex(ids, fill_value=0)
    table = pd.DataFrame({"image_id": ids, "true_cells": n_true.to_numpy(),
                          "missed": (n_true - tp).to_numpy(), "extra": (n_cells - tp).to_numpy(),
                          "wrong_label": wrong.to_numpy()})  # fmt: skip
    table["errors"] = table["missed"] + table["extra"] + table["wrong_label"]
    return table.sort_values(["errors", "image_id"], ascending=[False, True],
                             kind="stable").reset_index(drop=True)  # fmt: skip
