"""Per-image work in chunks, in order, on one or more processes, with a progress bar."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from joblib import Parallel, delayed, effective_n_jobs
from tqdm.auto import tqdm

__all__ = ["map_chunks"]


def map_chunks(
    task: Callable[..., list],
    items: Sequence[tuple[str, Any]],
    *args,
    n_jobs: int = 1,
    desc: str = "images",
    progress: bool = False,
) -> Iterator[tuple[str, Any]]:
    """Apply ``task(chunk, *args)`` to chunks of ``(image_id, payload)`` items, in order.

    ``task`` returns one result per item of its chunk; results are yielded as
    ``(image_id, result)`` in input order, a few chunks in memory at a time.
    Chunks are small enough to give every process several (at most 32 items).

    Examples
    --------
    >>> def double(chunk):
    ...     return [2 * v for _, v in chunk]
    >>> list(map_chunks(double, [("a", 1), ("b", 2)]))
    [('a', 2), ('b', 4)]
    """
    workers = effective_n_jobs(n_jobs)
    size = max(1, min(32, len(items) // (4 * workers) or 1))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    if workers > 1:
        results = Parallel(n_jobs=workers, return_as="generator")(
            delayed(task)(chunk, *args) for chunk in chunks
        )
    else:
        results = (task(chunk, *args) for chunk in chunks)
    with tqdm(total=len(items), desc=desc, unit="image", disable=not progress) as bar:
        for chunk, outputs in zip(chunks, results, strict=True):
            for (key, _), output in zip(chunk, outputs, strict=True):
                yield key, output
            bar.update(len(chunk))
