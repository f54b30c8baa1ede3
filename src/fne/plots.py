"""Scatter plots of proxy scores (matplotlib, written straight to PNG files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def scatter_png(
    path: str | Path,
    x: np.ndarray,
    y: np.ndarray,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    color: np.ndarray | None = None,
    color_label: str = "",
    log_x: bool = False,
) -> Path:
    """Write a scatter plot of the finite points of ``(x, y)`` to ``path`` (PNG).

    Args:
        path: output file.
        x: horizontal values.
        y: vertical values.
        title: plot title.
        xlabel: horizontal axis label.
        ylabel: vertical axis label.
        color: optional values colouring the points (with a colour bar).
        color_label: label of the colour bar.
        log_x: logarithmic horizontal axis (used when all finite x are positive).
    """
    plt = _pyplot()
    x, y = np.asarray(x, float), np.asarray(y, float)
    keep = np.isfinite(x) & np.isfinite(y)
    fig, ax = plt.subplots(figsize=(5.0, 4.0), dpi=110)
    try:
        points = ax.scatter(
            x[keep], y[keep], s=8, alpha=0.7, c=None if color is None else np.asarray(color, float)[keep]
        )
        if color is not None:
            fig.colorbar(points, ax=ax, label=color_label)
        if log_x and keep.any() and (x[keep] > 0).all():
            ax.set_xscale("log")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
