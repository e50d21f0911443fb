"""Axis helpers shared by the plot backends and the report's figures.

:func:`log_ticks` chooses the ticks of a log axis for every backend
(matplotlib, bokeh, plotly); :func:`tidy_log_axis` applies them to a
matplotlib axis (the legacy plots, the matplotlib backend of the modern
ones, and :func:`pymc_localmass.report`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["log_ticks", "tidy_log_axis"]


def log_ticks(lo, hi):
    """Tick values of a log axis from ``lo`` to ``hi``: decades, or 1-2-5 / 1-2-3-5 steps when short.

    Examples
    --------
    >>> log_ticks(0.03, 0.45)
    [0.03, 0.05, 0.1, 0.2, 0.3]
    >>> log_ticks(1e-6, 1.0)[:3]
    [1e-06, 1e-05, 0.0001]
    """
    if not (lo > 0 and hi > lo and np.isfinite(hi)):
        return []
    decades = np.log10(hi) - np.log10(lo)  # (hi / lo overflows for a subnormal lo)
    subs = (1.0, 2.0, 3.0, 5.0) if decades < 1.2 else (1.0, 2.0, 5.0) if decades < 2.2 else (1.0,)
    step = max(1, int(np.ceil(decades / 8))) if decades >= 2.2 else 1  # at most ~8 decade labels
    out = []
    for e in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1):
        if subs == (1.0,) and e % step:
            continue
        for m in subs:
            v = float(f"{m * 10.0 ** e:.12g}")
            if lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
                out.append(v)
    return out


def tidy_log_axis(axis, lo, hi):
    """Readable log ticks on a matplotlib axis: plain numbers (0.02, 0.1, 1), 1-2-5 steps when the range is short.

    Parameters
    ----------
    axis : matplotlib.axis.Axis
        ``ax.xaxis`` or ``ax.yaxis`` of a log-scaled Axes.
    lo, hi : float
        The axis range the ticks are chosen for (see :func:`log_ticks`).
    """
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    ticks = log_ticks(lo, hi)
    if len(ticks) >= 2:
        axis.set_major_locator(FixedLocator(ticks))
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
