"""Run one short distributed training (a helper that tests start in fresh processes).

Usage: python tests/_distributed_training.py {mirrored,multiworker} STORE OUT_DIR
(``multiworker`` reads ``TF_CONFIG``). Prints the run's settings as JSON.
"""

from __future__ import annotations

import json
import sys


def main(mode: str, store: str, out_dir: str) -> None:
    import tensorflow as tf

    if mode == "mirrored":
        # Two replicas on one CPU: logical devices, configured before TensorFlow starts.
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    else:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    from cellcnn.train import train

    result = train(
        store, 24, out_dir=out_dir, epochs=2, batch_size=16, distribute=strategy, verbose=0
    )
    print(json.dumps({**result.run["settings"], "best_val_auc": result.best_val_auc}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
