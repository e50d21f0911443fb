"""Legacy generation (ArviZ 0.2x): matplotlib, ``ax=``, ``figsize=``, returns the axes."""

from __future__ import annotations

import warnings

import numpy as np

from .._stack import user_stacklevel
from ._prepare import axis_labels, panel_title
from .axes import tidy_log_axis
from ..errors import InvalidInputError

# default matplotlib keyword arguments of each visual (``visuals=`` overrides or disables them)
DEFAULTS = {
    "mass_band": {"alpha": 0.22, "linewidth": 0},
    "slope_band": {"alpha": 0.22, "linewidth": 0},
    "reference": {"color": "0.5", "linestyle": ":", "linewidth": 0.9},
    "reference_text": {"color": "0.3", "fontsize": 7.5},
    "slope_reference": {"color": "0.6", "linestyle": ":", "linewidth": 0.8},
    "fit": {"linestyle": "-.", "linewidth": 1.3, "alpha": 0.95},
    "mass": {"linewidth": 1.9},
    "mass_unresolved": {"linestyle": "--", "linewidth": 1.4, "alpha": 0.5},
    "slope": {"linewidth": 1.9},
    "slope_unresolved": {"linestyle": "--", "linewidth": 1.4, "alpha": 0.5},
    "asymptote": {"linestyle": "-.", "linewidth": 1.2},
    "asymptote_text": {"fontsize": 7.5},
    "index_text": {"fontsize": 7.5},
    "title": {"fontsize": 10},
    "xlabel": {"fontsize": 9},
    "ylabel": {"fontsize": 9},
    "legend": {"fontsize": 8},
    "key": {"fontsize": 8},
}
VISUAL_NAMES = tuple(DEFAULTS)


def _kw(visuals, name, **base):
    """Keyword arguments of a visual; the artist's ``gid`` is the visual name (tests and users find it)."""
    user = visuals.get(name, {})
    if user is False:
        return None
    if user is True:
        user = {}
    gid = {} if name in ("legend", "key") else {"gid": name}
    return {**gid, **DEFAULTS.get(name, {}), **base, **user}


def _finite_xy(da):
    x = da.sel(plot_axis="x").values
    y = da.sel(plot_axis="y").values
    return x, y


def _band(ax, da, color, kw):
    x = da.sel(kwarg="x").values
    lo = da.sel(kwarg="y_bottom").values
    hi = da.sel(kwarg="y_top").values
    ok = np.isfinite(x) & np.isfinite(lo) & np.isfinite(hi)
    if ok.sum() < 2:
        return None
    return ax.fill_between(x[ok], lo[ok], hi[ok], **{"color": color, **kw})


def draw_panel(ax, which, var, sel, geo, pdata, visuals, labeller, isel):
    """Draw one mass (``which="mass"``) or slope panel on a matplotlib Axes."""
    odim = pdata.overlay
    n_over = len(pdata.labels)
    colors = [f"C{o}" for o in range(n_over)]

    def get(key):
        return geo[key][var].sel(sel) if sel else geo[key][var]

    band_key = f"{which}_band"
    for o in range(n_over):
        kw = _kw(visuals, band_key)
        if kw is not None:
            _band(ax, get(band_key).isel({odim: o}), colors[o], kw)
    if which == "mass":
        _draw_mass_guides(ax, get, visuals, odim, colors)
    else:
        _draw_slope_guides(ax, get, visuals, odim, colors)
    _draw_curves(ax, which, get, visuals, pdata, colors)
    _draw_annotation(ax, which, get, visuals, odim, colors)
    _set_axes(ax, which, var, sel, isel, get("limits"), pdata, visuals, labeller)


def _draw_mass_guides(ax, get, visuals, odim, colors):
    """The mass view's reference lines of slope 1..d with their labels, and the fitted index lines."""
    kw = _kw(visuals, "reference")
    if kw is not None:
        ref = get("reference")
        for k in range(ref.sizes["ref"]):
            x, y = _finite_xy(ref.isel(ref=k))
            if np.isfinite(x).all():
                ax.plot(x, y, **kw)
    kw = _kw(visuals, "reference_text")
    if kw is not None:
        pos, txt = get("reference_text"), get("reference_str")
        for k in range(pos.sizes["ref"]):
            x, y = _finite_xy(pos.isel(ref=k))
            if np.isfinite(x) and txt.values[k]:
                ax.text(float(x), float(y), txt.values[k], ha="right", va="top", **kw)
    kw = _kw(visuals, "fit")
    if kw is not None:
        for o in range(len(colors)):
            x, y = _finite_xy(get("fit").isel({odim: o}))
            if np.isfinite(x).any():
                ax.plot(x, y, **{"color": colors[o], **kw})


def _draw_slope_guides(ax, get, visuals, odim, colors):
    """The slope view's reference slopes 1..d and each overlay entry's asymptote ``a``."""
    kw = _kw(visuals, "slope_reference")
    if kw is not None:
        for k in get("slope_reference").values:
            if np.isfinite(k):
                ax.axhline(float(k), **kw)
    kw = _kw(visuals, "asymptote")
    if kw is not None:
        for o in range(len(colors)):
            a = float(get("asymptote").isel({odim: o}))
            if np.isfinite(a):
                ax.axhline(a, **{"color": colors[o], **kw})


def _draw_curves(ax, which, get, visuals, pdata, colors):
    """Each overlay entry's curve: solid at resolved radii (labelled for the legend), dashed elsewhere."""
    odim = pdata.overlay
    for o in range(len(colors)):
        label = pdata.labels[o] if pdata.is_overlay else None
        kw = _kw(visuals, which)
        if kw is not None:
            x, y = _finite_xy(get(which).isel({odim: o}))
            ax.plot(x, y, **{"color": colors[o], "label": label, **kw})
        kw = _kw(visuals, f"{which}_unresolved")
        if kw is not None:
            x, y = _finite_xy(get(f"{which}_unresolved").isel({odim: o}))
            if np.isfinite(y).any():
                ax.plot(x, y, **{"color": colors[o], **kw})


def _draw_annotation(ax, which, get, visuals, odim, colors):
    """The index text blocks (mass view, in the emptiest corner) or the asymptote texts (slope view)."""
    text_key = "index_text" if which == "mass" else "asymptote_text"
    str_key = "index_str" if which == "mass" else "asymptote_str"
    kw = _kw(visuals, text_key)
    if kw is None:
        return
    align = get("index_align")
    ha = str(align.sel(align="horizontal").values) if which == "mass" else "right"
    va = str(align.sel(align="vertical").values) if which == "mass" else "top"
    for o in range(len(colors)):
        x, y = _finite_xy(get(text_key).isel({odim: o}))
        txt = get(str_key).isel({odim: o}).values.item()
        if txt and np.isfinite(x) and np.isfinite(y):
            ax.text(float(x), float(y), txt, ha=ha, va=va, **{"color": colors[o], **kw})


def _set_axes(ax, which, var, sel, isel, lim, pdata, visuals, labeller):
    """Log scales and limits (``lim``: the panel's ``limits``), tidy ticks, the title and axis labels."""
    x_lo, x_hi = float(lim.sel(lim="x_lo")), float(lim.sel(lim="x_hi"))
    if which == "mass":
        y_lo, y_hi = float(lim.sel(lim="y_lo")), float(lim.sel(lim="y_hi"))
    else:
        y_lo, y_hi = float(lim.sel(lim="slope_lo")), float(lim.sel(lim="slope_hi"))
    ax.set_xscale("log")
    ax.set_xlim(x_lo, x_hi)
    tidy_log_axis(ax.xaxis, x_lo, x_hi)
    if which == "mass":
        ax.set_yscale("log")
        tidy_log_axis(ax.yaxis, y_lo, y_hi)
    ax.set_ylim(y_lo, y_hi)
    xlabel, ylabel_m, ylabel_s = axis_labels(pdata)
    kw = _kw(visuals, "title")
    if kw is not None:
        ax.set_title(panel_title(var, sel, isel, labeller), **kw)
    kw = _kw(visuals, "xlabel")
    if kw is not None:
        ax.set_xlabel(xlabel, **kw)
    kw = _kw(visuals, "ylabel")
    if kw is not None:
        ax.set_ylabel(ylabel_m if which == "mass" else ylabel_s, **kw)


def key_handles(pdata, visuals=None, kind="mass"):
    """Legend entries explaining the line styles (those of visuals turned off left out)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ci = float(pdata.attrs.get("ci_prob", np.nan))
    ci_txt = f"{ci:.0%} interval" if np.isfinite(ci) else "interval"
    d = max(pdata.dims_d.values()) if pdata.dims_d else 1
    ref = "reference slope 1" if d == 1 else f"reference slopes 1..{d}"
    entries = {
        "mass": Line2D([], [], color="0.2", **{k: v for k, v in DEFAULTS["mass"].items()}, label="resolved"),
        "mass_unresolved": Line2D([], [], color="0.2", **DEFAULTS["mass_unresolved"], label="unresolved"),
        "mass_band": Patch(color="0.2", alpha=0.22, label=ci_txt),
        "fit": Line2D([], [], color="0.2", **DEFAULTS["fit"], label="fitted index (a, b)"),
        "reference": Line2D([], [], **DEFAULTS["reference"], label=ref),
    }
    from ._prepare import key_kept

    return [h for h, ok in zip(entries.values(), key_kept(visuals, kind)) if ok]


def plot(pdata, geo, *, kind, labeller=None, visuals=None, ax=None, figsize=None, backend_kwargs=None,
         show=None, col_wrap=4):
    """Draw the prepared results on matplotlib Axes (new, or ``ax``) and return the array of Axes."""
    import matplotlib.pyplot as plt

    visuals = dict(visuals or {})
    unknown = [k for k in visuals if k not in VISUAL_NAMES]
    if unknown:
        raise InvalidInputError(f"unknown visuals {unknown}; valid keys are {list(VISUAL_NAMES)}")
    panels = pdata.panels()
    if not panels:
        raise InvalidInputError("nothing to plot: no variable element and centre has local-mass data")
    n = len(panels)
    which = ["mass", "slope"] if kind == "both" else [kind]
    fig, flat = _axes_grid(n, which, kind=kind, ax=ax, figsize=figsize, backend_kwargs=backend_kwargs,
                           col_wrap=col_wrap)
    axes = flat.reshape(n, len(which)) if kind == "both" else flat
    for p, (var, sel) in enumerate(panels):
        isel = {d: int(np.flatnonzero(pdata.curves[var][d].values == v)[0])
                for d, v in sel.items() if d in pdata.curves[var].coords}
        for j, w in enumerate(which):
            target = axes[p, j] if kind == "both" else axes[p]
            draw_panel(target, w, var, sel, geo, pdata, visuals, labeller, isel)
    _legends(fig, axes[0, 0] if kind == "both" else axes[0], pdata, visuals, kind)
    if show:
        plt.show()
    return axes


def _axes_grid(n, which, *, kind, ax, figsize, backend_kwargs, col_wrap):
    """The figure and the flat array of Axes for ``n`` panels of each view in ``which`` (new, or the user's)."""
    import matplotlib.pyplot as plt

    if kind == "both":
        rows, cols = n, 2
    else:
        cols = min(int(col_wrap), n)
        rows = -(-n // cols)
    if ax is not None and (figsize is not None or backend_kwargs):
        warnings.warn("plot_local_mass: figsize and backend_kwargs size a new figure; with ax= they are "
                      "ignored (size the axes' figure instead)", UserWarning, stacklevel=user_stacklevel())
    if ax is None:
        bk = dict(backend_kwargs or {})
        # figsize may come either way, as ArviZ 0.2x allows (the argument wins)
        figsize = figsize if figsize is not None else bk.pop("figsize", None)
        bk.pop("figsize", None)
        if figsize is None:
            figsize = (min(3.9 * cols, 16.0) + 1.6, min(3.1 * rows, 40.0))
        bk.setdefault("layout", "constrained")
        fig, grid = plt.subplots(rows, cols, figsize=figsize, squeeze=False, **bk)
        flat = grid.ravel()
        for extra in flat[n * len(which):]:
            fig.delaxes(extra)
        return fig, flat[: n * len(which)]
    flat = np.ravel(np.asarray(ax, dtype=object))
    if flat.size < n * len(which):
        raise InvalidInputError(
            f"ax has {flat.size} axes but {n * len(which)} panels are needed "
            f"({n} element/centre panels x {len(which)} kind(s))"
        )
    flat = flat[: n * len(which)]
    return flat[0].figure, flat


def _legends(fig, first, pdata, visuals, kind):
    """The overlay legend and the key of line styles: outside on the right (constrained layout), else in ``first``."""
    constrained = getattr(fig.get_layout_engine(), "__class__", type(None)).__name__ == "ConstrainedLayoutEngine"
    loc = "outside right upper" if constrained else "upper right"
    legends = []
    if pdata.is_overlay and visuals.get("legend", True) is not False:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=f"C{o}", linewidth=2, label=str(lab)) for o, lab in enumerate(pdata.labels)]
        kw = _kw(visuals, "legend")
        leg = fig.legend(handles=handles, title=pdata.overlay, loc=loc, **kw) if constrained else \
            first.legend(handles=handles, title=pdata.overlay, loc="lower right", **kw)
        legends.append(leg)
    handles = key_handles(pdata, visuals, kind)
    if visuals.get("key", True) is not False and handles:
        kw = _kw(visuals, "key")
        if constrained:
            fig.legend(handles=handles, loc="outside right lower" if legends else loc, **kw)
        elif not legends:
            first.legend(handles=handles, loc="lower right", **kw)
