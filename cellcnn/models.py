"""CNN architectures and the registry that builds them by name.

Every model built by :func:`build_model` takes ``uint8`` patches as they come
from the store and contains its own preprocessing, so a saved model needs
nothing else to predict:

``uint8 patches -> float -> augmentation (training only) -> per-channel normalisation -> backbone -> P(alive)``

(for K > 2 classes the last layer is a softmax over K: ``build_model(..., n_classes=K)``).

Augmentation (microscopy has no up or down): random flips and transposes (the
eight symmetries of the square, 90-degree rotations included), a small
translation, brightness and contrast jitter and Gaussian noise. It runs
inside the model, so on the accelerator when there is one.

- ``compact``: three double-convolution blocks and one single, batch norm,
  global average pooling; about 430,000 parameters, fast on a CPU.
- ``thesis_vgg``: the seed thesis' simplified VGG-16: conv 64, 64 / pool /
  128, 128 / pool / 256 x3 / pool / 512 x3 / pool, batch norm after each
  convolution, global average pooling, dense 1024, dropout 0.1, dense 512,
  dropout 0.1, sigmoid.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
from keras import layers

__all__ = ["build_model", "available_models", "register_model", "RandomDihedral", "CUSTOM_OBJECTS"]


@keras.saving.register_keras_serializable(package="cellcnn")
class RandomDihedral(layers.Layer):
    """Random flips and transposes of square patches: all eight symmetries of the square.

    Examples
    --------
    >>> layer = RandomDihedral(seed=0)
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> y = np.asarray(layer(x, training=True))
    >>> sorted(y.ravel().tolist()) == sorted(x.ravel().tolist())
    True
    """

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training:
            return inputs
        n = keras.ops.shape(inputs)[0]
        flips = keras.random.uniform((3, n, 1, 1, 1), seed=self.generator) < 0.5
        x = keras.ops.where(flips[0], keras.ops.flip(inputs, axis=1), inputs)
        x = keras.ops.where(flips[1], keras.ops.flip(x, axis=2), x)
        return keras.ops.where(flips[2], keras.ops.transpose(x, (0, 2, 1, 3)), x)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


#: Pass to ``keras.saving.load_model(..., custom_objects=CUSTOM_OBJECTS)`` to load a
#: saved model without importing this module first (importing it registers them too).
CUSTOM_OBJECTS = {"cellcnn>RandomDihedral": RandomDihedral, "RandomDihedral": RandomDihedral}


def _conv(x, filters: int):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(momentum=0.9)(x)  # small data sets: adapt quickly
    return layers.Activation("relu")(x)


def compact(x, *, widths: Sequence[int] = (32, 64, 128), dropout: float = 0.3):
    """Backbone of the ``compact`` model (about 430,000 parameters with one channel)."""
    for width in widths:
        x = _conv(_conv(x, width), width)
        x = layers.MaxPooling2D()(x)
    x = _conv(x, widths[-1])
    x = layers.GlobalAveragePooling2D()(x)
    return layers.Dropout(dropout)(x)


def thesis_vgg(x):
    """Backbone of the thesis' simplified VGG-16 (about 8.7 million parameters)."""
    for widths in ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512)):
        for width in widths:
            x = _conv(x, width)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dense(1024, activation="relu")(x)
    x = layers.Dropout(0.1)(x)
    x = layers.Dense(512, activation="relu")(x)
    return layers.Dropout(0.1)(x)


_MODELS: dict[str, Callable] = {"compact": compact, "thesis_vgg": thesis_vgg}


def register_model(name: str, backbone: Callable) -> None:
    """Make ``backbone(features) -> features`` available to :func:`build_model` by name."""
    _MODELS[name] = backbone


def available_models() -> list[str]:
    """Names :func:`build_model` accepts.

    Examples
    --------
    >>> available_models()
    ['compact', 'thesis_vgg']
    """
    return sorted(_MODELS)


def augmentation(seed: int | None = None) -> list[layers.Layer]:
    """The training-time augmentation before normalisation (inputs in 0-255 grey levels).

    Gaussian noise follows the normalisation (0.05 standard deviations).
    """
    return [
        RandomDihedral(seed=seed),
        layers.RandomTranslation(0.06, 0.06, fill_mode="reflect", seed=seed),
        layers.RandomBrightness(0.1, value_range=(0, 255), seed=seed),
        layers.RandomContrast(0.15, seed=seed),
    ]


def build_model(
    name: str,
    input_shape: tuple[int, int, int],
    *,
    mean: Sequence[float] | np.ndarray | None = None,
    variance: Sequence[float] | np.ndarray | None = None,
    augment: bool = True,
    seed: int | None = None,
    n_classes: int = 2,
    **kwargs,
) -> keras.Model:
    """Build a registered model with its preprocessing.

    Parameters
    ----------
    name : str
        ``compact``, ``thesis_vgg`` or a registered name.
    input_shape : (size, size, channels)
        Shape of one patch.
    mean, variance : per-channel values, optional
        Normalisation computed on the training split (stored in the model).
        Default: 127.5 and 127.5 squared.
    augment : bool, default True
        Include the augmentation layers (active only in training).
    seed : int, optional
        Seeds the augmentation.
    n_classes : int, default 2
        Classes to tell apart: two give one sigmoid output (the first class's
        probability), more a softmax over them (:mod:`cellcnn.classes`).
    **kwargs
        Passed to the backbone (e.g. ``widths`` for ``compact``).

    Returns
    -------
    keras.Model
        Input ``uint8 (size, size, channels)``, output ``float32`` P(alive) ``(batch,)``
        (for K > 2 classes ``(batch, K)`` class probabilities).

    Examples
    --------
    >>> model = build_model("compact", (48, 48, 1))
    >>> 300_000 < model.count_params() < 600_000
    True
    >>> build_model("compact", (16, 16, 1), n_classes=3, widths=(4,)).output_shape
    (None, 3)
    """
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(available_models())}")
    if not isinstance(n_classes, int | np.integer) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer of at least 2, got {n_classes!r}")
    channels = input_shape[2]
    mean = np.full(channels, 127.5) if mean is None else np.asarray(mean, dtype=float)
    variance = (
        np.full(channels, 127.5**2) if variance is None else np.asarray(variance, dtype=float)
    )
    inputs = keras.Input(input_shape, dtype="uint8", name="patches")
    x = layers.Rescaling(1.0, dtype="float32")(keras.ops.cast(inputs, "float32"))
    if augment:
        for layer in augmentation(seed):
            x = layer(x)
    x = layers.Normalization(mean=mean, variance=variance, name="normalisation")(x)
    if augment:
        x = layers.GaussianNoise(0.05, seed=seed)(x)  # in units of the channel's spread
    x = _MODELS[name](x, **kwargs)
    if n_classes > 2:
        outputs = layers.Dense(n_classes, activation="softmax", dtype="float32", name="p_class")(x)
        return keras.Model(inputs, outputs, name=name)
    outputs = layers.Dense(1, activation="sigmoid", dtype="float32", name="p_alive")(x)
    outputs = layers.Reshape((), name="p_alive_flat")(outputs)
    return keras.Model(inputs, outputs, name=name)
