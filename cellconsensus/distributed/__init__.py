"""Beyond one machine: consensus and patch building on a Dask cluster.

``cellconsensus.distributed.find_consensus`` partitions the Clicks table by
image and runs the engine's stages on every partition of a
``dask.distributed`` cluster, doing the global steps (``"auto"`` scale, the
annotator model, Dawid-Skene) across partitions; ``write_patches`` builds a patch store with
workers that each write their own chunk-aligned region. Needs the
``distributed`` extra (``pip install 'cellconsensus[distributed]'``).
See the "Scaling out" page of the documentation.
"""

from ..io import read_cells
from ._client import connect, local_cluster
from .consensus import DistributedConsensus, find_consensus
from .partition import choose_npartitions, partition_clicks
from .patches import write_patches

__all__ = [
    "DistributedConsensus",
    "choose_npartitions",
    "connect",
    "find_consensus",
    "local_cluster",
    "partition_clicks",
    "read_cells",
    "write_patches",
]
