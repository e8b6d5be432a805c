"""Simulated crowds: clicks of imperfect annotators over ground-truth cells."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import CellConsensusInputError
from .tables import LABEL_DTYPE, cells_vocabulary, validate_clicks

__all__ = ["simulate_crowd"]


def _beta(rng: np.random.Generator, mean: float, n: int, concentration: float = 10.0) -> np.ndarray:
    """``n`` draws of a Beta with the given mean (exactly ``mean`` when it is 0 or 1)."""
    if mean <= 0 or mean >= 1:
        return np.full(n, float(np.clip(mean, 0, 1)))
    return rng.beta(mean * concentration, (1 - mean) * concentration, size=n)


def simulate_crowd(
    truth: pd.DataFrame,
    n_annotators: int = 5,
    *,
    seed: int = 0,
    position_noise: float = 0.1,
    miss_rate: float = 0.1,
    label_noise: float = 0.1,
    unsure_rate: float = 0.03,
    spammer_fraction: float = 0.0,
    spurious_rate: float = 0.03,
    double_click_rate: float = 0.02,
    pool_size: int | None = None,
    default_size: float = 30.0,
) -> pd.DataFrame:
    """Simulate a crowd of annotators clicking the cells of a ground-truth table.

    Annotators come from one global pool, so the same annotator works on many
    images (which lets Dawid-Skene learn skills). Each pool member has their
    own miss rate, label-flip rate and position accuracy, drawn around the
    given means; a fraction of them are spammers who click random places with
    random labels. For every image, ``n_annotators`` distinct members are
    drawn.

    Parameters
    ----------
    truth : DataFrame
        Columns ``image_id, x, y, label`` and optionally ``size`` (cell
        diameter, px), ``image_width``, ``image_height``
        (e.g. :func:`~cellconsensus.io.read_voc` or
        :func:`~cellconsensus.synthetic.make_truth`). Images listed in
        ``truth.attrs["image_ids"]`` without any cell are annotated too. Its label
        set (``attrs["classes"]``, else inferred from the labels) is the crowd's.
    n_annotators : int, default 5
        Annotators per image.
    seed : int, default 0
        Random seed: the same seed gives the same clicks.
    position_noise : float, default 0.1
        Standard deviation of a click around the cell centre, per axis, as a
        fraction of the cell size (scaled per annotator by a log-normal factor).
    miss_rate : float, default 0.1
        Mean probability that an annotator misses a cell.
    label_noise : float, default 0.1
        Mean probability that an annotator gives a wrong label (another class,
        uniformly, for more than two classes).
    unsure_rate : float, default 0.03
        Probability that a click is labelled ``unsure``.
    spammer_fraction : float, default 0.0
        Fraction of the pool who click at random.
    spurious_rate : float, default 0.03
        Spurious clicks per annotator, as a fraction of the image's cells
        (Poisson), anywhere on the image.
    double_click_rate : float, default 0.02
        Probability that a click is repeated a few pixels away.
    pool_size : int, optional
        Size of the global annotator pool (default ``4 * n_annotators``, at
        least 20).
    default_size : float, default 30.0
        Cell size used when ``truth`` has no ``size`` column.

    Returns
    -------
    DataFrame
        A Clicks table (``image_id, annotator_id, x, y, label``), sorted by
        image and annotator, with ``attrs["runs"]`` listing every (image,
        annotator) pair, including annotators who clicked nothing.

    Examples
    --------
    >>> from cellconsensus.synthetic import make_truth
    >>> truth = make_truth(n_images=4, seed=0)
    >>> clicks = simulate_crowd(truth, n_annotators=5, seed=0)
    >>> clicks.groupby("image_id")["annotator_id"].nunique().tolist()
    [5, 5, 5, 5]
    """
    if n_annotators < 1:
        raise ValueError(f"n_annotators must be at least 1, got {n_annotators}")
    pool_size = pool_size or max(4 * n_annotators, 20)
    if pool_size < n_annotators:
        raise ValueError(f"pool_size ({pool_size}) must be at least n_annotators ({n_annotators})")
    for name, value in (
        ("miss_rate", miss_rate),
        ("label_noise", label_noise),
        ("unsure_rate", unsure_rate),
        ("spammer_fraction", spammer_fraction),
        ("double_click_rate", double_click_rate),
    ):
        if not 0 <= value <= 1:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    rng = np.random.default_rng(seed)

    # The annotator pool.
    spammer = rng.random(pool_size) < spammer_fraction
    p_miss = _beta(rng, miss_rate, pool_size)
    p_flip = _beta(rng, label_noise, pool_size)
    precision = rng.lognormal(0.0, 0.25, pool_size)
    pool_names = np.array([f"a{i:04d}" for i in range(pool_size)], dtype=object)

    # Images and their cells.
    listed = truth.attrs.get("image_ids") or []
    images = pd.Index(
        pd.unique(pd.concat([pd.Series(listed, dtype=object), truth["image_id"].astype(object)]))
    )
    images = images.sort_values()
    t_img = images.get_indexer(truth["image_id"])
    t_xy = truth[["x", "y"]].to_numpy(dtype="float64")
    t_size = (
        truth["size"].to_numpy(dtype="float64")
        if "size" in truth
        else np.full(len(truth), default_size)
    )
    vocabulary = cells_vocabulary(truth)
    k = vocabulary.n_classes
    t_code = vocabulary.codes(truth["label"])
    if ((t_code < 0) | (t_code >= k)).any():
        i = int(np.flatnonzero((t_code < 0) | (t_code >= k))[0])
        raise CellConsensusInputError(
            f"truth label {truth['label'].iloc[i]!r} is not one of the classes "
            f"{', '.join(vocabulary.classes)}",
            source="simulate_crowd",
            row=f"row {i + 1}",
            field="label",
        )
    n_cells = np.bincount(t_img, minlength=len(images))
    canvas = _canvas(truth, images, t_img, t_xy)

    # Who works on which image: n_annotators distinct pool members each.
    members = np.argsort(rng.random((len(images), pool_size)), axis=1)[:, :n_annotators]
    run_img = np.repeat(np.arange(len(images)), n_annotators)
    run_ann = members.ravel()

    # Honest clicks: every (run, cell of that image) pair, unless missed.
    order = np.argsort(t_img, kind="stable")
    starts = np.r_[0, np.cumsum(n_cells)[:-1]]
    per_run = n_cells[run_img]
    run_of = np.repeat(np.arange(len(run_img)), per_run)
    cell_of = order[
        starts[run_img[run_of]]
        + (np.arange(len(run_of)) - np.repeat(np.cumsum(per_run) - per_run, per_run))
    ]
    ann = run_ann[run_of]
    keep = (~spammer[ann]) & (rng.random(len(run_of)) >= p_miss[ann])
    run_of, cell_of, ann = run_of[keep], cell_of[keep], ann[keep]
    sigma = position_noise * t_size[cell_of] * precision[ann]
    xy = t_xy[cell_of] + rng.normal(size=(len(cell_of), 2)) * sigma[:, None]
    # A wrong label is another class, uniformly (for two classes: the other one).
    flip = rng.random(len(cell_of)) < p_flip[ann]
    offset = 1 if k == 2 else rng.integers(1, k, len(cell_of))
    label = np.where(flip, (t_code[cell_of] + offset) % k, t_code[cell_of])

    # Double clicks: a second click a few pixels from the first.
    dbl = rng.random(len(xy)) < double_click_rate
    xy_d = (
        xy[dbl] + rng.normal(size=(int(dbl.sum()), 2)) * np.maximum(sigma[dbl], 1.0)[:, None] * 0.5
    )
    run_of = np.r_[run_of, run_of[dbl]]
    xy = np.r_[xy, xy_d]
    label = np.r_[label, label[dbl]]

    # Spurious clicks (everyone) and random clicks (spammers), uniform on the image.
    n_random = rng.poisson(np.where(spammer[run_ann], 1.0, spurious_rate) * n_cells[run_img])
    rand_run = np.repeat(np.arange(len(run_img)), n_random)
    rand_xy = rng.random((len(rand_run), 2)) * canvas[run_img[rand_run]]
    rand_label = (
        (rng.random(len(rand_run)) < 0.5).astype(int)
        if k == 2
        else rng.integers(0, k, len(rand_run))
    )
    run_of = np.r_[run_of, rand_run]
    xy = np.r_[xy, rand_xy]
    label = np.r_[label, rand_label]

    unsure = rng.random(len(label)) < unsure_rate
    if vocabulary.unsure is not None:
        label = np.where(unsure, k, label)
    xy = np.clip(xy, 0.0, canvas[run_img[run_of]])

    sort = np.lexsort((xy[:, 1], xy[:, 0], run_of))
    run_of, xy, label = run_of[sort], xy[sort], label[sort]
    names = np.asarray(images, dtype=object)
    label_dtype = (
        LABEL_DTYPE if vocabulary.is_alive_dead else pd.CategoricalDtype(vocabulary.answers)
    )
    clicks = pd.DataFrame(
        {
            "image_id": names[run_img[run_of]],
            "annotator_id": pool_names[run_ann[run_of]],
            "x": xy[:, 0],
            "y": xy[:, 1],
            "label": pd.Categorical.from_codes(label, dtype=label_dtype),
        }
    )
    runs = pd.DataFrame({"image_id": names[run_img], "annotator_id": pool_names[run_ann]})
    clicks = validate_clicks(
        clicks, source="simulate_crowd", classes=None if vocabulary.is_alive_dead else vocabulary
    )
    clicks.attrs["runs"] = runs
    return clicks


def _canvas(truth, images, t_img, t_xy) -> np.ndarray:
    """(width, height) per image: from the truth's image size, else the cells' extent."""
    out = np.zeros((len(images), 2))
    if len(t_img):
        np.maximum.at(out, t_img, t_xy * 1.05 + 10.0)
    for d, column in enumerate(("image_width", "image_height")):
        if column in truth:
            given = np.full(len(images), np.nan)
            given[t_img] = truth[column].to_numpy(dtype="float64")
            out[:, d] = np.where(np.isfinite(given), given, out[:, d])
    out[out <= 0] = 100.0
    return out
