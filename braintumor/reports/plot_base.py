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

#: What a notebook embeds is the figure as `img/` holds it: the same dots per inch, RGB, so that
#: text stays readable at GitHub's width and the scans keep their grey levels (no 256-colour
#: palette). Notebooks stay light by what they show: galleries are capped (`MAX_SCANS_SHOWN`),
#: and galleries of scans embed at `GALLERY_SHOW_DPI` (still 640 px or more wide; `img/` keeps
#: them at `DPI`): at full size the error analysis's six galleries weighed 3 MB of its 3.1.
SHOW_DPI = DPI
GALLERY_SHOW_DPI = 80

#: Galleries of scans show at most this many (the most telling first) and say how many
#: more there are, so that a worse model cannot make a figure tens of rows long.
MAX_SCANS_SHOWN = 20

#: Reliability bins with fewer scans than this get a hollow marker and no line: their
#: observed fraction is too noisy to draw a curve through.
MIN_BIN_SCANS = 10

GRADCAM_SCALING_NOTE = "each map scaled to its own maximum: compare places within a scan, not scans"


def _finish(fig: Figure, path: str | os.PathLike | None) -> Figure:
    """Save `fig` as an RGB PNG at `path` (atomically, `png_bytes` at `DPI`) when a path is given; return it."""
    if path is not None:
        data = png_bytes(fig, DPI)
        atomic_write(Path(path), lambda tmp: tmp.write_bytes(data))
    return fig


def show(fig: Figure, dpi: int = SHOW_DPI) -> None:
    """Display `fig` inline, as the PNG `img/` holds (`png_bytes` at `dpi`), then close it; for notebook cells.

    Why not let Jupyter draw the figure: the `<Figure size ... with N Axes>` text it leaves
    records counts (of errors, say) that follow the trained weights, which a notebook
    regression check then flags, and its PNG carries the software version. Here the figure is
    rendered in memory, shown with `IPython.display` and closed, so the cell's output is only
    that image. Returns None, so a cell ending in `plots.show(fig)` prints nothing more.
    """
    from IPython.display import Image as IPythonImage, display

    display(IPythonImage(data=png_bytes(fig, dpi), format="png"))
    plt.close(fig)


def png_bytes(fig: Figure, dpi: int = DPI) -> bytes:
    """`fig` as an RGB PNG in memory: `dpi`, tight bounding box, white behind, optimised.

    No software version in the metadata, so the bytes depend only on what is drawn.
    """
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white", metadata={"Software": None})
    buffer.seek(0)
    with Image.open(buffer) as picture:
        rgb = picture.convert("RGB")
    compact = io.BytesIO()
    rgb.save(compact, format="PNG", optimize=True)
    return compact.getvalue()
