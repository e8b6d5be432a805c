"""Dask plumbing shared by the cluster executors: the client, a tuned local cluster, and
gathering safely."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["resolve_client", "connect", "local_cluster", "gather_all", "WORKER_ENVIRON"]

#: Environment of the worker processes :func:`local_cluster` starts. Dask's nanny sets
#: ``MALLOC_TRIM_THRESHOLD_`` (to hand memory back to the system), which also fixes glibc's
#: mmap threshold at 128 KiB: every large array is then a fresh mmap and its pages are
#: faulted in anew. The engine allocates many arrays of a partition's size; measured on
#: 396,669 clicks (2-core AMD EPYC, 2026-12-02): consensus 0.61-0.79 s by default,
#: 1.25-1.31 s with Dask's setting, 0.83-0.94 s with it and this mmap threshold.
WORKER_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": "67108864"}


def resolve_client(client):
    """``client``, or the current Dask client (a clear error when there is none)."""
    if client is not None:
        return client
    try:
        from distributed import get_client
    except ImportError as exc:  # pragma: no cover - distributed is a dependency of the extra
        raise ImportError(
            "cellconsensus.distributed needs dask.distributed: pip install 'cellconsensus[distributed]'"
        ) from exc
    try:
        return get_client()
    except ValueError as exc:
        raise ValueError(
            "no Dask client: pass client=Client(...) or create one first "
            "(e.g. Client(LocalCluster()) on one machine)"
        ) from exc


def local_cluster(n_workers: int, **options: Any):
    """A ``distributed.LocalCluster`` of ``n_workers`` processes with one thread each, whose
    workers allocate memory as a plain process does (:data:`WORKER_ENVIRON`).

    Parameters
    ----------
    n_workers : int
        Worker processes.
    **options
        More ``LocalCluster`` options (default ``dashboard_address=":0"``).

    Examples
    --------
    >>> from distributed import Client
    >>> with local_cluster(2) as cluster, Client(cluster) as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    import dask
    from distributed import LocalCluster

    if n_workers < 1:
        raise ValueError(f"n_workers must be at least 1, got {n_workers}")
    environ = {f"distributed.nanny.pre-spawn-environ.{k}": v for k, v in WORKER_ENVIRON.items()}
    options = {"threads_per_worker": 1, "processes": True, "dashboard_address": ":0", **options}
    # The nanny reads the variables when it is made, i.e. inside this block.
    with dask.config.set(environ):
        return LocalCluster(n_workers=n_workers, **options)


@contextmanager
def connect(client) -> Iterator[Any]:
    """A ``distributed.Client`` for ``client``: a client (used as it is), an address
    (``"tcp://host:8786"``, connected for the block and closed after), ``"local:N"`` (a
    :func:`local_cluster` of N workers for the block), or None (the current client).

    Examples
    --------
    >>> with connect("local:1") as client:  # doctest: +SKIP
    ...     client.submit(sum, [1, 2]).result()
    3
    """
    if not isinstance(client, str):
        yield resolve_client(client)
        return
    from distributed import Client

    if client.startswith("local:"):
        try:
            n = int(client.split(":", 1)[1])
        except ValueError:
            raise ValueError(f"expected 'local:N' with N workers, got {client!r}") from None
        with local_cluster(n) as cluster, Client(cluster) as made:
            yield made
    else:
        with Client(client) as made:
            yield made


def gather_all(client, futures: list) -> list:
    """Gather results; on a failure, first wait until every other task has stopped.

    Dask cannot interrupt running tasks: without the wait, tasks of a failed build would
    go on writing after the error reached the caller (who may be cleaning up or rerunning).
    """
    try:
        return client.gather(futures)
    except BaseException:
        from distributed import wait

        wait(futures)
        raise
