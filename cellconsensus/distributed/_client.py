"""Dask plumbing shared by the cluster executors: the client, and gathering safely."""

from __future__ import annotations

__all__ = ["resolve_client", "gather_all"]


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
