"""Figures that look the same in every chapter: a colour-blind-safe palette and a few helpers.

The palette is Okabe and Ito's eight colours (2008), distinguishable under the common forms of
colour blindness. Sequential data uses ``viridis``, diverging data ``RdBu_r`` (both safe).
Every figure in the book labels its axes; give the figure alt text in the chapter's markdown.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib as mpl
import numpy as np

__all__ = ["PALETTE", "SEQUENTIAL", "DIVERGING", "use_course_style", "plot_decision_boundary"]

#: Okabe-Ito colours, in the order the course uses them.
PALETTE = [
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#000000",  # black
]
SEQUENTIAL = "viridis"
DIVERGING = "RdBu_r"


def use_course_style() -> None:
    """Set matplotlib defaults for the book: palette, sizes, light grids, no top/right spines."""
    mpl.rcParams.update(
        {
            "axes.prop_cycle": mpl.cycler(color=PALETTE),
            "figure.figsize": (6.4, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 100,
            "figure.constrained_layout.use": True,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "image.cmap": SEQUENTIAL,
            "font.size": 10,
        }
    )


def plot_decision_boundary(
    ax,
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    resolution: int = 200,
    margin: float = 0.5,
    title: str | None = None,
):
    """Shade the class that ``predict`` assigns over the plane and scatter the data on top.

    Args:
        ax: a matplotlib Axes.
        predict: maps points of shape (M, 2) to integer labels of shape (M,).
        X: data points, shape (N, 2).
        y: integer labels, shape (N,).
        resolution: grid points per axis.
        margin: space around the data, in data units.
        title: optional axes title.
    """
    from matplotlib.colors import ListedColormap

    classes = np.unique(y)
    cmap = ListedColormap(PALETTE[: max(len(classes), 2)])
    x0 = np.linspace(X[:, 0].min() - margin, X[:, 0].max() + margin, resolution)
    x1 = np.linspace(X[:, 1].min() - margin, X[:, 1].max() + margin, resolution)
    g0, g1 = np.meshgrid(x0, x1)
    labels = np.asarray(predict(np.column_stack([g0.ravel(), g1.ravel()]))).reshape(g0.shape)
    ax.contourf(g0, g1, labels, levels=np.arange(len(classes) + 1) - 0.5, cmap=cmap, alpha=0.25)
    for k, c in enumerate(classes):
        mask = y == c
        ax.scatter(
            X[mask, 0],
            X[mask, 1],
            s=12,
            color=PALETTE[k],
            label=f"class {c}",
            edgecolor="white",
            linewidth=0.3,
        )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    if title:
        ax.set_title(title)
    return ax
