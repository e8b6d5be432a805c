"""Training on several workers (``tf.distribute``): each worker's role, and input read
in shards, one per input pipeline."""

from __future__ import annotations

import tensorflow as tf

from .data import make_dataset

__all__ = ["cluster_role", "per_worker_input"]


def cluster_role(strategy: tf.distribute.Strategy) -> tuple[int, int, bool]:
    """Workers of the run, this one's index among them, and whether it is the chief.

    Read from the strategy's cluster resolver (``TF_CONFIG``): the ``chief`` task,
    else ``worker`` 0, is the chief; one worker when there is no cluster.

    Examples
    --------
    >>> cluster_role(tf.distribute.get_strategy())
    (1, 0, True)
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
    tasks = [(kind, i) for kind in ("chief", "worker") for i in range(len(spec.get(kind, [])))]
    if len(tasks) <= 1:
        return 1, 0, True
    me = tasks.index((resolver.task_type, int(resolver.task_id)))
    return len(tasks), me, me == 0


def per_worker_input(strategy, source, split, global_batch, **kwargs):
    """A distributed dataset: each input pipeline reads its own shard of the store's chunks,
    batched per replica (``tf.distribute``'s ``distribute_datasets_from_function``)."""

    def dataset(context: tf.distribute.InputContext) -> tf.data.Dataset:
        ds = make_dataset(
            source,
            split=split,
            batch_size=context.get_per_replica_batch_size(global_batch),
            shard=(context.num_input_pipelines, context.input_pipeline_id),
            drop_remainder=True,  # replicas step together on batches of one shape
            **kwargs,
        )
        return ds.repeat()

    return strategy.distribute_datasets_from_function(dataset)
