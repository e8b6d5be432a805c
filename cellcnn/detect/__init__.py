"""Find cells on images without any clicks: a point detector.

- :func:`train_detector` -- learn cell centres (and classes) from any Cells or truth
  table and its images;
- :func:`detect` -- a Cells table of the cells found on new images;
- :func:`evaluate_detector` -- its detection and label figures against the truth;
- :func:`draw_detections` -- every image with the cells found, as PNG files.

See :mod:`cellcnn.detect.network` for the model and its loss,
:mod:`cellcnn.detect.crops` for its training crops, :mod:`cellcnn.detect.tiles` for
images of any size, :mod:`cellcnn.detect.edges` for the thresholds of the peaks near
each side of an image.
"""

from .drawing import draw_detections
from .evaluation import evaluate_detector
from .inference import detect, load_detector
from .training import DetectorResult, train_detector

__all__ = [
    "train_detector",
    "detect",
    "load_detector",
    "evaluate_detector",
    "draw_detections",
    "DetectorResult",
]
