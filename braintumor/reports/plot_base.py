"""What every figure of the reports shares: sizes, colours, and saving or showing a Figure."""

from __future__ import annotations

import io
import os
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from ..files import atomic_write

DPI = 110
WRONG_COLOUR = "tab:red"

#: Resolution of the PNG that `show` embeds in a notebook. At 60 dots per inch a 20-scan
#: gallery (12 x 13.6 inches) embeds at about 720 x 820 pixels, each scan about 145 pixels
#: wide with 8-point captions still legible. Measured with the shipped model, after the
#: 256-colour palette: 20-scan Grad-CAM grid 66 KB, 15-scan one 57 KB, 20-scan
#: misclassified gallery 41 KB, line plots under 10 KB. At 72 dpi the Grad-CAM grids
#: reach 90 KB. The full-size PNG is in `img/`.
SHOW_DPI = 60

#: Galleries of scans show at most this many (the most telling first) and say how many
#: more there are, so that a worse model cannot make a figure tens of rows long.
MAX_SCANS_SHOWN = 20

#: Reliability bins with fewer scans than this get a hollow marker and no line: their
#: observed fraction is too noisy to draw a curve through.
MIN_BIN_SCANS = 10

GRADCAM_SCALING_NOTE = "each map scaled to its own maximum: compare places within a scan, not scans"


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    """Save `fig` as PNG at `path` (atomically) when a path is given; return it."""
    if path is not None:
        atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight"))
    return fig


def show(fig: Figure, dpi: int = SHOW_DPI) -> None:
    """Display `fig` inline as a small PNG, then close it; for notebook cells.

    Why not let Jupyter draw the figure: its full-resolution PNG makes a notebook of
    galleries weigh megabytes, and the `<Figure size ... with N Axes>` text it leaves
    records counts (of errors, say) that follow the trained weights, which a notebook
    regression check then flags. Here the figure is rendered in memory at `dpi`, reduced
    to a 256-colour palette (plots have few colours; the scans are grey), shown with
    `IPython.display`, and closed, so the cell's output is only that image. The full-size
    PNG is what the plotting function's `path=` wrote. Returns None, so a cell ending in
    `plots.show(fig)` prints nothing more.
    """
    from IPython.display import Image as IPythonImage, display

    display(IPythonImage(data=png_bytes(fig, dpi), format="png"))
    plt.close(fig)


def png_bytes(fig: Figure, dpi: int = SHOW_DPI) -> bytes:
    """`fig` as a compact PNG in memory: `dpi`, tight bounding box, 256-colour palette.

    No software version in the metadata, so the bytes depend only on what is drawn.
    """
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    buffer.seek(0)
    with Image.open(buffer) as picture:
        palette = picture.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    compact = io.BytesIO()
    palette.save(compact, format="PNG", optimize=True)
    return compact.getvalue()
