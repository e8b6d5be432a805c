"""The label vocabulary: the true classes, and the answer that means "not sure".

Cell Spotting's vocabulary is ``alive`` / ``dead`` with the answer ``unsure``
(the default everywhere). Other projects mark other things (cell types,
mitoses, adults / chicks / eggs): a :class:`Vocabulary` names their classes in
order; the label models then give one probability per class. ``unsure`` (or the
vocabulary's own word for it) is an *answer*, never a class: a vote that says
nothing of which class, counted as such by every model.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import CellConsensusInputError
from .schema import label_codes

__all__ = ["Vocabulary", "ALIVE_DEAD", "as_vocabulary"]


@dataclass(frozen=True)
class Vocabulary:
    """True classes in order, and the answer meaning "not sure" (``None``: no such answer).

    Codes of answers: ``0 .. K-1`` the classes in order, ``K`` the unsure answer.

    Parameters
    ----------
    classes : sequence of str
        Two classes or more, distinct.
    unsure : str or None, default "unsure"
        The answer that is not a class.

    Examples
    --------
    >>> birds = Vocabulary(("goose", "parrot", "chicken"))
    >>> birds.encode(pd.Series(["parrot", "unsure", "goose"])).tolist()
    [1, 3, 0]
    >>> Vocabulary.infer(["dead", "alive", "unsure"]) == ALIVE_DEAD
    True
    """

    classes: tuple[str, ...]
    unsure: str | None = "unsure"

    def __post_init__(self) -> None:
        classes = tuple(self.classes)
        object.__setattr__(self, "classes", classes)
        if len(classes) < 2 or not all(isinstance(c, str) and c for c in classes):
            raise ValueError(f"a vocabulary needs two classes or more (text), got {classes!r}")
        if len(set(classes)) != len(classes):
            raise ValueError(f"classes must be distinct, got {classes!r}")
        if "real" in classes:
            raise ValueError("'real' cannot be a class: p_real is the chance a cell is real")
        if self.unsure is not None and self.unsure in classes:
            raise ValueError(f"the unsure answer {self.unsure!r} cannot also be a class")

    @property
    def n_classes(self) -> int:
        """K, the number of true classes."""
        return len(self.classes)

    @property
    def is_alive_dead(self) -> bool:
        """The Cell Spotting vocabulary: ``alive``, ``dead`` and the answer ``unsure``."""
        return self == ALIVE_DEAD

    @property
    def answers(self) -> tuple[str, ...]:
        """Every answer in code order: the classes, then the unsure answer if any."""
        return self.classes + ((self.unsure,) if self.unsure is not None else ())

    @classmethod
    def infer(
        cls, labels: Iterable, unsure: str | None = "unsure", source: str = "<votes>"
    ) -> Vocabulary:
        """The vocabulary of the labels seen: ``alive`` / ``dead`` when either is among
        them or no class is (another label is then an error when encoded, as a typo would
        be), else every label but the unsure answer, in sorted order.

        Raises
        ------
        CellConsensusInputError
            Fewer than two classes among the labels (pass the classes explicitly).
        """
        values = labels if isinstance(labels, pd.Series) else pd.Series(list(labels), dtype=object)
        seen = {str(v) for v in values.dropna().unique()}
        if unsure is not None:
            seen.discard(unsure)
        if (not seen or seen & set(ALIVE_DEAD.classes)) and unsure == ALIVE_DEAD.unsure:
            # Alive / dead votes (or none but unsure): another label is a typo to report.
            return ALIVE_DEAD
        if len(seen) < 2:
            raise CellConsensusInputError(
                f"unknown label {', '.join(map(repr, sorted(seen)))}: a label set needs two "
                "classes or more (alive / dead / unsure by default; pass classes=[...] for "
                "another set)",
                source=source,
                field="label",
            )
        return cls(tuple(sorted(seen)), unsure)

    def codes(self, labels: pd.Series) -> np.ndarray:
        """Answer codes of ``labels``, -1 for a label that is neither a class nor the
        unsure answer (missing values included).

        Examples
        --------
        >>> ALIVE_DEAD.codes(pd.Series(["dead", "maybe", None])).tolist()
        [1, -1, -1]
        """
        if self.is_alive_dead:
            return label_codes(labels).astype(np.int64)  # the fast path of the default
        values = pd.Series(labels).astype(object)
        text = values.astype(str).where(values.notna(), None)
        return pd.Index(self.answers, dtype=object).get_indexer(text.to_numpy(dtype=object))

    def encode(self, labels: pd.Series, source: str = "<votes>") -> np.ndarray:
        """Answer codes of ``labels``; an unknown label is an error naming the row.

        Raises
        ------
        CellConsensusInputError
            A label that is neither a class nor the unsure answer.
        """
        codes = self.codes(labels)
        bad = np.flatnonzero(codes < 0)
        if len(bad):
            i = int(bad[0])
            raise CellConsensusInputError(
                f"unknown label {pd.Series(labels).iloc[i]!r} (classes: {', '.join(self.classes)}"
                + (f"; answer {self.unsure!r}" if self.unsure is not None else "")
                + ")",
                source=source,
                row=f"row {i + 1}",
                field="label",
            )
        return codes.astype(np.int64)


#: Cell Spotting's vocabulary (the default): classes alive and dead, the answer unsure.
ALIVE_DEAD = Vocabulary(("alive", "dead"), "unsure")


def as_vocabulary(
    classes: Vocabulary | Sequence[str] | None, labels: Iterable, source: str = "<votes>"
) -> Vocabulary:
    """A vocabulary from ``classes`` (given) or inferred from ``labels``.

    Examples
    --------
    >>> as_vocabulary(["b", "a"], []).classes
    ('b', 'a')
    """
    if classes is None:
        return Vocabulary.infer(labels, source=source)
    if isinstance(classes, Vocabulary):
        return classes
    return Vocabulary(tuple(classes))
