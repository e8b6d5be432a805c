"""Square patches centred on cells, with an explicit policy at image borders.

Geometry: a cell at ``(x, y)`` lies in pixel column ``floor(x)`` and row
``floor(y)`` (pixel ``j`` covers ``[j, j + 1)``). Its patch of side ``size``
spans columns ``floor(x) - size // 2`` to ``floor(x) - size // 2 + size - 1``
and the same for rows, so the cell's pixel is the patch centre for odd
sizes and the pixel right of and below the centre for even sizes.

Border policies, for windows that leave the image:

``reflect`` (default)
    Pixels outside are mirrored from inside (``numpy.pad(mode="reflect")``,
    repeated for images smaller than the patch). Flagged ``padded``.
``constant``
    Pixels outside are ``fill`` (0). Flagged ``padded``.
``shift``
    The window moves inside the image, so the cell is off-centre by
    ``shift_x``, ``shift_y`` pixels; flagged ``shifted``. Along an axis where
    the image is smaller than the patch, the image is centred and padded with
    ``fill`` (flagged ``padded``).
``drop``
    The cell gets no patch; counted in ``report.n_dropped_border``.

The thesis dropped every cell near the border; ``reflect`` keeps them.

An *empty-patch score* (``contrast``) flags patches with no cell in them:
the root-mean-square deviation of the grey levels in the central half of the
patch from the patch's median (its background level), divided by the pixel
noise of the whole image (estimated robustly from neighbouring pixel
differences). A patch of pure background scores about 1; a cell scores well
above. ``min_contrast`` drops patches below a threshold.
"""

from .cells import PATCH_COLUMNS, CellPatches, cell_patches, extract_patches, patch_table
from .crop import BORDERS, Border, Patches, PatchReport, contrast_score, crop, image_noise

__all__ = [
    "BORDERS",
    "Border",
    "Patches",
    "PatchReport",
    "PATCH_COLUMNS",
    "CellPatches",
    "crop",
    "contrast_score",
    "image_noise",
    "extract_patches",
    "cell_patches",
    "patch_table",
]
