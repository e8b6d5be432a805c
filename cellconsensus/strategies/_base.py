"""Base class of consensus strategies.

A strategy makes candidate cells from clicks through one hook,
:meth:`BaseStrategy.make_cells`. Its default clusters the clicks of each image
with the strategy's ``fit_predict_batch`` (or ``_cluster_image``, one image at a
time) and does everything around it (grouping by image, the
one-vote-per-annotator rule, centres, support, parallelism) in shared code
(:mod:`cellconsensus.clustering`); so most strategies only cluster. One with a
rule of its own for cells and labels (the thesis') overrides ``make_cells``.

Strategies look and feel like scikit-learn estimators: keyword parameters
stored as given, validated when used, ``get_params``/``set_params``, a readable
``repr``. A strategy whose parameters are pixel distances may accept ``"auto"``
for them: the engine then estimates the crowd's click noise with
:func:`~cellconsensus.strategies.scale.estimate_scale` over the whole input and
replaces ``"auto"`` by a multiple of it (``_auto_scale``, times the factor that keeps
the crowd's one-click-per-cell rule best: :mod:`~cellconsensus.strategies.consistency`).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from ..clustering import ClickArrays, DraftCells, cluster_cells
from ..errors import CellConsensusInputError
from ..params import BaseParams

__all__ = ["BaseStrategy", "iter_images"]


def iter_images(image_index: np.ndarray):
    """Yield ``(start, stop)`` of each run of equal values in a sorted index.

    Examples
    --------
    >>> list(iter_images(np.array([0, 0, 1, 3, 3, 3])))
    [(0, 2), (2, 3), (3, 6)]
    """
    if len(image_index) == 0:
        return
    cuts = np.flatnonzero(np.diff(image_index)) + 1
    bounds = np.concatenate(([0], cuts, [len(image_index)]))
    yield from zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)


class BaseStrategy(BaseParams):
    """Base class for consensus strategies (clusterers of one image's clicks).

    Parameters behave as in scikit-learn (:class:`~cellconsensus.params.BaseParams`:
    ``get_params``, ``set_params``, ``clone``, ``repr``, validation when used).
    Subclasses declare ``name``, ``_parameter_constraints``, an ``__init__``
    with keyword parameters stored as attributes of the same name, and either
    ``_cluster_image`` (one image) or ``fit_predict_batch`` (many images at
    once, for speed); :func:`cellconsensus.testing.check_strategy` checks the
    contract.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"dbscan"``.
    """

    name: ClassVar[str] = ""
    _parameter_constraints: ClassVar[dict[str, list]] = {}
    #: Parameters that accept "auto", and the multiple of the estimated noise
    #: scale (sigma, pixels) that "auto" stands for.
    _auto_scale: ClassVar[dict[str, float]] = {}
    #: Most clicks one image may have for a strategy that clusters image by image
    #: (``None``: no limit), and why: more fails at once with a clear message instead of
    #: asking for terabytes or running for hours.
    max_points_per_image: ClassVar[int | None] = None
    _limit_reason: ClassVar[str] = ""

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_params() == other.get_params()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    @property
    def needs_scale(self) -> bool:
        """True when some parameter is ``"auto"`` and must be estimated from the clicks."""
        return any(getattr(self, k) == "auto" for k in self._auto_scale)

    def with_scale(self, sigma: float) -> BaseStrategy:
        """Return a copy with every ``"auto"`` parameter set from the noise scale ``sigma``
        (to 0.01 px, so the ``repr`` reads and reproduces it).

        Examples
        --------
        >>> from cellconsensus.strategies import get_strategy
        >>> get_strategy("dbscan", eps="auto").with_scale(4.0)
        DBSCANStrategy(eps=12.0)
        """
        clone = self.clone()
        for key, factor in self._auto_scale.items():
            if getattr(clone, key) == "auto":
                setattr(clone, key, round(float(factor * sigma), 2))
        return clone

    # -- cells --------------------------------------------------------------------------
    def make_cells(
        self, clicks: ClickArrays, *, n_jobs: int = 1, progress: bool = False
    ) -> DraftCells:
        """Make the candidate cells of every image: the one hook of a strategy.

        The default clusters (:meth:`fit_predict_batch`), applies the one-vote
        rule and computes centres, spread and support
        (:func:`~cellconsensus.clustering.cluster_cells`). Override it for a rule
        that makes cells (and possibly labels) its own way, returning a
        :class:`~cellconsensus.clustering.DraftCells` (``final=True`` to skip the
        support rule, ``p_alive`` to skip the label model).

        Parameters
        ----------
        clicks : ClickArrays
            The validated, encoded clicks and runs per image.
        n_jobs : int, default 1
            Processes (-1: all cores); results are identical for any value.
        progress : bool, default False
            Show a progress bar.
        """
        self._validate_params()
        return cluster_cells(self, clicks, n_jobs=n_jobs, progress=progress)

    # -- clustering -------------------------------------------------------------------
    def fit_predict(self, X: np.ndarray, annotators: np.ndarray | None = None) -> np.ndarray:
        """Cluster the clicks of one image.

        Parameters
        ----------
        X : ndarray of shape (n_clicks, 2)
            Click positions (x, y) in pixels.
        annotators : ndarray of shape (n_clicks,), optional
            Integer annotator codes (used by strategies that look at them, and
            to estimate ``"auto"`` parameters from this image's clicks).

        Returns
        -------
        ndarray of int of shape (n_clicks,)
            Cluster id of each click, ``-1`` for noise.
        """
        X = np.asarray(X, dtype="float64").reshape(-1, 2)
        ann = np.zeros(len(X), np.int64) if annotators is None else np.asarray(annotators)
        image = np.zeros(len(X), np.int64)
        strategy = self
        if self.needs_scale:
            from .consistency import consistency_scores, resolve_auto  # they build on this class
            from .scale import sample_median

            strategy, sigma = resolve_auto(
                self,
                0,
                lambda _: sample_median(X, image, ann),
                lambda s: consistency_scores(self, s, X, image, ann),
            )
            if sigma is None:
                raise ValueError(
                    f"{self!r}: 'auto' is estimated from the clicks of two annotators or more; "
                    "pass their annotators, or give the parameter in pixels"
                )
        return strategy.fit_predict_batch(X, image, ann)

    def fit_predict_batch(
        self, X: np.ndarray, image_index: np.ndarray, annotators: np.ndarray
    ) -> np.ndarray:
        """Cluster the clicks of many images at once.

        ``image_index`` is sorted; clusters never span two images. Cluster ids
        need only be unique within an image. The default loops over images and
        calls ``_cluster_image``; vectorised strategies override this method.
        """
        self._validate_params()
        self._check_resolved()
        labels = np.full(len(X), -1, dtype=np.int64)
        bounds = list(iter_images(image_index))
        limit = self.max_points_per_image
        biggest = max((stop - start for start, stop in bounds), default=0)
        if limit is not None and biggest > limit:
            raise CellConsensusInputError(
                f"an image with {biggest:,} clicks: {self.name} {self._limit_reason} and takes "
                f"at most {limit:,} per image; use dbscan (linear in the clicks)"
            )
        for start, stop in bounds:
            labels[start:stop] = self._cluster_image(X[start:stop], annotators[start:stop])
        return labels

    def fit_predict_scales(
        self, X: np.ndarray, image_index: np.ndarray, annotators: np.ndarray, sigmas
    ) -> list[np.ndarray]:
        """Cluster the clicks of many images once per noise scale in ``sigmas``
        (``with_scale(sigma)``, then :meth:`fit_predict_batch`); strategies that can share
        work between scales override it.
        """
        return [self.with_scale(s).fit_predict_batch(X, image_index, annotators) for s in sigmas]

    def _check_resolved(self) -> None:
        if self.needs_scale:
            raise ValueError(
                f"{self!r} has a parameter set to 'auto': call find_consensus(), which estimates "
                "it from all clicks, or with_scale(sigma) first"
            )

    def _cluster_image(self, X: np.ndarray, annotators: np.ndarray) -> np.ndarray:
        raise NotImplementedError
