"""The point detector's network and loss.

A small U-Net (three resolutions below the input, widths 16 / 32 / 64 by
default) on whole images or tiles of any size divisible by 8:

``uint8 image -> per-image standardisation -> stride-2 stem -> encoder / decoder with skips -> heads at half resolution -> bilinear x2``

Its output has ``1 + K`` channels: the cell-centre heatmap (a sigmoid) and the K
class probabilities at every pixel (a softmax), read at the centre map's peaks.

The loss (:func:`detector_loss`) is CenterNet's penalty-reduced focal loss on the
centre map (positives: the bumps' peak pixels; the negatives near a cell
penalised less, by ``(1 - target)^4``), normalised by the number of cells, plus
the cross-entropy of the class maps weighted by the bumps (soft targets allowed).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import layers, ops

__all__ = ["build_detector", "detector_loss", "Standardise", "DETECTOR_OBJECTS"]


@keras.saving.register_keras_serializable(package="cellcnn")
class Standardise(layers.Layer):
    """Each image (or tile) to zero mean and unit standard deviation per channel, so that
    the detector does not depend on a microscope's exposure.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8, dtype="float32").reshape(1, 2, 4, 1)
    >>> y = np.asarray(Standardise()(x))
    >>> round(float(y.mean()), 6), round(float(y.std()), 3)
    (0.0, 1.0)
    """

    def call(self, inputs):
        x = ops.cast(inputs, "float32")
        mean = ops.mean(x, axis=(1, 2), keepdims=True)
        std = ops.sqrt(ops.mean(ops.square(x - mean), axis=(1, 2), keepdims=True))
        return (x - mean) / ops.maximum(std, 1.0)


def _conv(x, filters: int, strides: int = 1):
    x = layers.Conv2D(filters, 3, strides=strides, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)
    return layers.Activation("relu")(x)


def build_detector(
    channels: int, n_classes: int, *, widths: Sequence[int] = (16, 32, 64)
) -> keras.Model:
    """The detector: ``(None, None, channels)`` ``uint8`` in, ``(None, None, 1 + K)`` out.

    Parameters
    ----------
    channels : int
        Image channels (1 or 3).
    n_classes : int
        K, the classes of the class maps (2 for alive / dead).
    widths : sequence of int, default (16, 32, 64)
        Filters at half, quarter and eighth resolution (about 120,000 parameters).

    Examples
    --------
    >>> import numpy as np
    >>> net = build_detector(1, 2)
    >>> net.predict(np.zeros((1, 64, 64, 1), np.uint8), verbose=0).shape
    (1, 64, 64, 3)
    """
    inputs = keras.Input((None, None, channels), dtype="uint8", name="image")
    x = Standardise()(inputs)
    x = _conv(x, widths[0], strides=2)
    skips = []
    for k, width in enumerate(widths):
        if k:
            x = layers.MaxPooling2D()(x)
        x = _conv(_conv(x, width), width)
        skips.append(x)
    for width, skip in zip(widths[-2::-1], skips[-2::-1], strict=True):
        x = layers.UpSampling2D(interpolation="bilinear")(x)
        x = layers.Concatenate()([x, skip])
        x = _conv(_conv(x, width), width)
    centre = layers.Conv2D(1, 1, bias_initializer=keras.initializers.Constant(-4.0))(x)
    classes = layers.Conv2D(n_classes, 1)(x)
    both = layers.Concatenate()([centre, classes])
    both = layers.UpSampling2D(interpolation="bilinear")(both)
    centre = layers.Activation("sigmoid", dtype="float32")(both[..., :1])
    classes = layers.Activation("softmax", dtype="float32")(both[..., 1:])
    outputs = layers.Concatenate(name="maps", dtype="float32")([centre, classes])
    return keras.Model(inputs, outputs, name="detector")


@keras.saving.register_keras_serializable(package="cellcnn")
def detector_loss(y_true, y_pred):
    """Focal loss of the centre map plus the weighted cross-entropy of the class maps.

    ``y_true`` is :func:`~cellcnn.detect.heatmap.render_targets`' ``(…, K + 3)``:
    centre, K class probabilities, centre weight, class weight.
    """
    k = ops.shape(y_pred)[-1] - 1
    eps = 1e-6
    heat, proba = y_true[..., 0], y_true[..., 1 : 1 + k]
    w_centre, w_class = y_true[..., 1 + k], y_true[..., 2 + k]
    p = ops.clip(y_pred[..., 0], eps, 1 - eps)
    positive = ops.cast(heat >= 1.0, "float32")
    focal = -(positive * ops.square(1 - p) * ops.log(p)
              + (1 - positive) * ops.power(1 - heat, 4) * ops.square(p) * ops.log(1 - p))  # fmt: skip
    n_cells = ops.maximum(ops.sum(positive), 1.0)
    centre_loss = ops.sum(focal * w_centre) / n_cells
    q = ops.clip(y_pred[..., 1:], eps, 1.0)
    cross = -ops.sum(proba * ops.log(q), axis=-1)
    class_loss = ops.sum(cross * w_class) / ops.maximum(ops.sum(w_class), eps)
    return centre_loss + class_loss


#: Pass to ``keras.saving.load_model`` to load a saved detector.
DETECTOR_OBJECTS = {"cellcnn>Standardise": Standardise, "cellcnn>detector_loss": detector_loss}
