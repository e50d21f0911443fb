"""Backend-agnostic visuals for arviz-plots (ArviZ 1.x).

Each function has the ``(da, target, **kwargs)`` signature that
``PlotCollection.map`` expects and draws through the backend interface of
``arviz_plots.backend.<name>``, so the same code serves matplotlib, bokeh and
plotly. Only the few operations arviz-plots has no backend function for
(log scales) talk to the plotting library directly.
"""

from __future__ import annotations

import numpy as np

from ._prepare import panel_title
from .axes import log_ticks, tidy_log_axis


def backend_from_object(target, return_module=True):
    """arviz-plots' backend module (or name) of a plot target; imported lazily (ArviZ 1.x only)."""
    from arviz_plots.plot_collection import backend_from_object as _from_object

    return _from_object(target, return_module=return_module)


def _scalar(value):
    if hasattr(value, "item"):
        try:
            return value.item()
        except ValueError:
            return value
    return value


def line_xy(da, target, **kwargs):
    """A line from ``da`` with a ``plot_axis`` dim (``x``, ``y``); NaN points are gaps.

    Returns None (draws nothing) when no point is finite.
    """
    x = np.asarray(da.sel(plot_axis="x").values, float)
    y = np.asarray(da.sel(plot_axis="y").values, float)
    if not (np.isfinite(x) & np.isfinite(y)).any():
        return None
    return backend_from_object(target).line(x, y, target, **kwargs)


def lines_xy(da, target, *, dim, **kwargs):
    """One line per coordinate of ``dim`` (lines with non-finite ends are skipped).

    Returns an object array with one entry per line (None where nothing was drawn).
    """
    plot_backend = backend_from_object(target)
    out = np.full(da.sizes[dim], None, dtype=object)
    for i in range(da.sizes[dim]):
        sub = da.isel({dim: i})
        x = np.asarray(sub.sel(plot_axis="x").values, float)
        y = np.asarray(sub.sel(plot_axis="y").values, float)
        if np.isfinite(x).all() and np.isfinite(y).all():
            out[i] = plot_backend.line(x, y, target, **kwargs)
    return out


def band(da, target, **kwargs):
    """Filled band from ``da`` with a ``kwarg`` dim (``x``, ``y_bottom``, ``y_top``); NaN points dropped."""
    x = np.asarray(da.sel(kwarg="x").values, float)
    lo = np.asarray(da.sel(kwarg="y_bottom").values, float)
    hi = np.asarray(da.sel(kwarg="y_top").values, float)
    ok = np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi)
    if ok.sum() < 2:
        return None
    return backend_from_object(target).fill_between_y(x[ok], lo[ok], hi[ok], target, **kwargs)


def text_xy(da, target, *, text, horizontal_align="left", vertical_align="top", **kwargs):
    """Text at the ``plot_axis`` position in ``da``; empty or missing strings draw nothing."""
    text = _scalar(text)
    if not isinstance(text, str) or not text:
        return None
    x = float(da.sel(plot_axis="x"))
    y = float(da.sel(plot_axis="y"))
    if not (np.isfinite(x) and np.isfinite(y)):
        return None
    return backend_from_object(target).text(x, y, text, target, horizontal_align=_scalar(horizontal_align),
                                            vertical_align=_scalar(vertical_align), **kwargs)


def texts_xy(da, target, *, text, dim, **kwargs):
    """One :func:`text_xy` per coordinate of ``dim``; returns an object array."""
    out = np.full(da.sizes[dim], None, dtype=object)
    for i in range(da.sizes[dim]):
        label = text.isel({dim: i}) if hasattr(text, "isel") else text[i]
        out[i] = text_xy(da.isel({dim: i}), target, text=label, **kwargs)
    return out


def hline(da, target, **kwargs):
    """Horizontal line across the plot at the scalar value of ``da``."""
    y = float(np.asarray(da.values).ravel()[0]) if da.size else np.nan
    if not np.isfinite(y):
        return None
    return backend_from_object(target).hline(y, target, **kwargs)


def hlines(da, target, *, dim, **kwargs):
    """One horizontal line per finite value along ``dim``; returns an object array."""
    out = np.full(da.sizes[dim], None, dtype=object)
    for i in range(da.sizes[dim]):
        out[i] = hline(da.isel({dim: i}), target, **kwargs)
    return out


def panel_title_visual(da, target, *, var_name, sel, isel, labeller=None, **kwargs):
    """Title ``theta[Choate] @ mean`` (the labeller formats the element part)."""
    text = panel_title(var_name, sel, isel, labeller)
    return backend_from_object(target).title(text, target, **kwargs)


def log_axes(da, target, *, which="mass"):
    """Log x axis (and log y for the mass view) with the limits in ``da`` (dim ``lim``).

    The limits are set explicitly so that annotation positions computed from
    them land where intended in every backend.
    """
    lim = {str(k): float(v) for k, v in zip(da["lim"].values, da.values)}
    x_lim = (lim["x_lo"], lim["x_hi"])
    y_lim = (lim["y_lo"], lim["y_hi"]) if which == "mass" else (lim["slope_lo"], lim["slope_hi"])
    y_log = which == "mass"
    if not all(np.isfinite(x_lim)) or not all(np.isfinite(y_lim)):
        return target
    name = backend_from_object(target, return_module=False)
    if name == "matplotlib":
        target.set_xscale("log")
        target.set_xlim(*x_lim)
        tidy_log_axis(target.xaxis, *x_lim)
        if y_log:
            target.set_yscale("log")
            tidy_log_axis(target.yaxis, *y_lim)
        target.set_ylim(*y_lim)
    elif name == "bokeh":
        from bokeh.models import CustomJSTickFormatter, FixedTicker, LogScale, Range1d

        def tick(axes, lo, hi):
            ticks = log_ticks(lo, hi)
            for axis in axes:
                if len(ticks) >= 2:
                    axis.ticker = FixedTicker(ticks=ticks, minor_ticks=[])
                # plain numbers as %g would print them (0.02, 1, 1e-06)
                axis.formatter = CustomJSTickFormatter(code="return Number(tick.toPrecision(6)).toString();")

        target.x_scale = LogScale()
        tick(target.xaxis, *x_lim)
        target.x_range = Range1d(*x_lim)
        if y_log:
            target.y_scale = LogScale()
            tick(target.yaxis, *y_lim)
        target.y_range = Range1d(*y_lim)
    elif name == "plotly":
        def ticks(lo, hi):
            vals = log_ticks(lo, hi)
            return dict(tickvals=vals, ticktext=[f"{v:g}" for v in vals]) if len(vals) >= 2 else {}

        target.update_xaxes(type="log", range=[np.log10(x_lim[0]), np.log10(x_lim[1])], autorange=False,
                            **ticks(*x_lim))
        if y_log:
            target.update_yaxes(type="log", range=[np.log10(y_lim[0]), np.log10(y_lim[1])], autorange=False,
                                **ticks(*y_lim))
        else:
            target.update_yaxes(range=list(y_lim), autorange=False)
    else:  # the "none" backend: record the request
        return {"xscale": "log", "yscale": "log" if y_log else "linear", "xlim": x_lim, "ylim": y_lim}
    return target
