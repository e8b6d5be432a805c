"""cellcnn: train and apply a CNN on patch stores written by :mod:`cellconsensus`.

- :func:`cellcnn.data.make_dataset` -- stream a store through ``tf.data``;
- :func:`cellcnn.models.build_model` -- ``compact`` or the thesis' ``thesis_vgg``;
- :func:`cellcnn.train.train`, :func:`cellcnn.evaluate.evaluate`,
  :func:`cellcnn.predict.predict`, :func:`cellcnn.predict.predict_cells`.

The package reads stores by their public format only (:mod:`cellcnn.store`).
"""

try:
    from importlib.metadata import version

    __version__ = version("cellconsensus")
except Exception:  # pragma: no cover - not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
