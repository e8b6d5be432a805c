"""A browsable HTML report of any crowd data set: consensus, disagreement, volunteers.

:func:`write_report` (``cellconsensus report INPUT -o DIR``) runs the default
consensus and the strategies to compare on a Clicks table and writes a folder
that opens offline in any browser:

- ``index.html``: what was read and found; how far the strategies agree without any
  truth (matrix, and the images they dispute most); the annotators (chart and the
  least reliable); the images where another annotator would help most; with truth,
  every strategy's scores and the images with the most errors;
- ``gallery-<n>.html``: every reported image as an overlay (clicks by annotator,
  cells by label and posterior, truth with misses and extras), a page at a time;
- ``images/<n>.html``: one image large, its cells in doubt, its cells' table.

Figures are PNG files under ``figures/``; pages link by number, so any image id
is safe. Images are chosen for the gallery by how much they need a look (the
most disputed and most doubtful first), at most ``max_images``.

Other steps add their own sections to the summary page as :class:`ReportSection`
objects (``cellcnn demo`` adds the CNN's: learning curves, ROC, reliability, worst
errors, the cells where the CNN and the crowd disagree).
"""

from .html import ReportSection
from .rankings import need_ranking
from .write import REPORT_STRATEGIES, write_report

__all__ = ["write_report", "need_ranking", "ReportSection", "REPORT_STRATEGIES"]
