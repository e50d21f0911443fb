"""Modern generation (ArviZ 1.x): ``plot_local_mass`` on arviz-plots' ``PlotCollection``."""

from __future__ import annotations

import warnings
from importlib import import_module

import numpy as np
import xarray as xr

from . import visuals as vis
from ._prepare import _NO_OVERLAY, axis_labels
from ..errors import InvalidInputError

#: visual name -> (function, extra map kwargs, default keyword arguments)
CURVE_VISUALS = ("mass_band", "slope_band", "fit", "mass", "mass_unresolved", "slope", "slope_unresolved",
                 "asymptote", "asymptote_text", "index_text")
VISUAL_NAMES = CURVE_VISUALS + ("reference", "reference_text", "slope_reference", "title", "xlabel", "ylabel",
                                "legend", "key")
DEFAULTS = {
    "mass_band": {"alpha": 0.22},
    "slope_band": {"alpha": 0.22},
    "reference": {"color": "B2", "linestyle": "C2", "width": 0.9},
    "reference_text": {"color": "B1"},
    "slope_reference": {"color": "B3", "linestyle": "C2", "width": 0.8},
    "fit": {"linestyle": "C3", "width": 1.3},
    "mass": {"width": 2.0},
    "mass_unresolved": {"linestyle": "C1", "width": 1.4, "alpha": 0.5},
    "slope": {"width": 2.0},
    "slope_unresolved": {"linestyle": "C1", "width": 1.4, "alpha": 0.5},
    "asymptote": {"linestyle": "C3", "width": 1.2},
    "asymptote_text": {},
    "index_text": {},
    "title": {"color": "B1"},
    "xlabel": {"color": "B1"},
    "ylabel": {"color": "B1"},
}
TEXT_SIZE = {"matplotlib": 7.5, "bokeh": 8, "plotly": 10}
SMALL_TEXT_SIZE = {"matplotlib": 7.5, "bokeh": 8, "plotly": 10}


def _visual_kwargs(visuals, name, backend):
    user = visuals.get(name, {})
    if user is False:
        return False
    if user is True or user is None:
        user = {}
    out = {**DEFAULTS.get(name, {}), **user}
    if name in ("index_text", "asymptote_text", "reference_text"):
        out.setdefault("size", (SMALL_TEXT_SIZE if name == "reference_text" else TEXT_SIZE)[backend])
    return out


def _drop_overlay(ds):
    return ds.isel({_NO_OVERLAY: 0}, drop=True) if _NO_OVERLAY in ds.dims else ds


def _presence(pdata, odim):
    """1 where a panel (element x centre [x overlay entry]) has data, NaN elsewhere."""
    out = {}
    for name, da in pdata.curves.data_vars.items():
        has = da.notnull().any(["radius", "local_stat"])
        out[name] = xr.where(has, 1.0, np.nan)
    ds = xr.Dataset(out)
    return _drop_overlay(ds)


def _new_collection(pdata, facet, *, kind, backend, col_wrap, figsize, pc_kwargs):
    """A PlotCollection with one plot per panel that has data (all-NaN centres get none)."""
    from arviz_plots import PlotCollection

    plot_bknd = import_module(f"arviz_plots.backend.{backend}")
    panels = pdata.panels()
    if not panels:
        raise InvalidInputError("nothing to plot: no variable element and centre has local-mass data")
    which = ["mass", "slope"] if kind == "both" else [kind]
    n_plots = len(panels) * len(which)
    if kind == "both":
        rows, cols = len(panels), 2
    else:
        cols = max(1, min(int(col_wrap), len(panels)))
        rows = -(-len(panels) // cols)
    figure_kwargs = dict(pc_kwargs.pop("figure_kwargs", None) or {})
    if figsize is not None:
        figure_kwargs["figsize"] = tuple(figsize)
        figure_kwargs.setdefault("figsize_units", "inches")
    if figure_kwargs.get("figsize") is None:
        width, height = plot_bknd.scale_fig_size(None, rows=rows, cols=cols)
        # room for the legends on the right and for one title + two axis labels per row
        figure_kwargs["figsize"] = (max(width, 360 * cols) + 170,
                                    max(height, 320 * rows) + (90 if backend == "plotly" else 0))
        figure_kwargs["figsize_units"] = "dots"
    elif backend != "matplotlib" and figure_kwargs.get("figsize_units", "inches") == "inches":
        figure_kwargs["figsize"] = tuple(100 * v for v in figure_kwargs["figsize"])
        figure_kwargs["figsize_units"] = "dots"
    if backend == "matplotlib":
        figure_kwargs.setdefault("layout", "constrained")
    fig, grid = plot_bknd.create_plotting_grid(n_plots, rows, cols, squeeze=False, **figure_kwargs)
    flat = np.asarray(grid, dtype=object).ravel()
    row_id, col_id = np.divmod(np.arange(rows * cols), cols)

    odim = pdata.overlay
    plot_das, row_das, col_das = {}, {}, {}
    for name, da in facet.data_vars.items():
        template = da.isnull().all(odim) if odim in da.dims else da.isnull()
        plot_das[name] = xr.DataArray(np.full(template.shape, None, dtype=object), dims=template.dims,
                                      coords=template.coords)
        row_das[name] = xr.full_like(template, -1, dtype=int)
        col_das[name] = xr.full_like(template, -1, dtype=int)
    k = 0
    for name, sel in panels:
        for w in which:
            full = dict(sel, panel=w) if kind == "both" else sel
            if full:
                plot_das[name].loc[full] = flat[k]
                row_das[name].loc[full] = row_id[k]
                col_das[name].loc[full] = col_id[k]
            else:
                plot_das[name].values[()] = flat[k]
                row_das[name].values[()] = row_id[k]
                col_das[name].values[()] = col_id[k]
            k += 1
    viz_dt = xr.DataTree.from_dict({
        "/": xr.Dataset({"figure": np.array(fig, dtype=object)}),
        "plot": xr.Dataset(plot_das),
        "row_index": xr.Dataset(row_das),
        "col_index": xr.Dataset(col_das),
    })
    aes = dict(pc_kwargs.pop("aes", None) or {})
    if pdata.is_overlay:
        aes.setdefault("color", [odim])
        # a loop-only aesthetic: curves are drawn once per overlay entry even where
        # aes_by_visuals takes the colour away
        aes.setdefault("overlay", [odim])
    return PlotCollection(facet, viz_dt, backend=backend, aes=aes, **pc_kwargs)


def _key_entries(pdata, backend, visuals=None, kind="mass"):
    ci = float(pdata.attrs.get("ci_prob", np.nan))
    ci_txt = f"{ci:.0%} interval" if np.isfinite(ci) else "interval"
    d = max(pdata.dims_d.values()) if pdata.dims_d else 1
    ref = "reference slope 1" if d == 1 else f"reference slopes 1..{d}"
    alpha_key = "opacity" if backend == "plotly" else "alpha"
    kwargs = [
        {"color": "B1", "linestyle": "C0", "width": 2.0},
        {"color": "B1", "linestyle": "C1", "width": 1.4, alpha_key: 0.5},
        {"color": "B2", "linestyle": "C0", "width": 7.0, alpha_key: 0.3},
        {"color": "B1", "linestyle": "C3", "width": 1.3},
        {"color": "B2", "linestyle": "C2", "width": 0.9},
    ]
    labels = ["resolved", "unresolved", ci_txt, "fitted index (a, b)", ref]
    from ._prepare import key_kept

    keep = key_kept(visuals, kind)
    return [k for k, ok in zip(kwargs, keep) if ok], [lab for lab, ok in zip(labels, keep) if ok]


def plot(pdata, geo, *, kind, labeller=None, plot_collection=None, backend=None, visuals=None,
         aes_by_visuals=None, figsize=None, col_wrap=4, **pc_kwargs):
    """Draw the prepared results on a (new or given) PlotCollection and return it."""
    visuals, aes_by_visuals = _checked_visual_keys(visuals, aes_by_visuals)
    odim = pdata.overlay
    facet = _presence(pdata, odim)
    if kind == "both":
        facet = facet.expand_dims(panel=["mass", "slope"], axis=-1)
    geo = {key: _drop_overlay(ds) for key, ds in geo.items()}
    pc, backend = _collection(pdata, facet, plot_collection=plot_collection, backend=backend, kind=kind,
                              col_wrap=col_wrap, figsize=figsize, pc_kwargs=pc_kwargs)
    draw = _drawer(pc, pdata, geo, visuals=visuals, aes_by_visuals=aes_by_visuals, kind=kind, backend=backend)
    which = ["mass", "slope"] if kind == "both" else [kind]
    if "mass" in which:
        _draw_mass_view(draw, geo)
    if "slope" in which:
        _draw_slope_view(draw, geo)
    _draw_axes(pc, pdata, geo, visuals=visuals, backend=backend, kind=kind, which=which)
    _draw_titles(pc, facet, odim, visuals=visuals, backend=backend, labeller=labeller)
    _draw_legends(pc, pdata, visuals=visuals, backend=backend, kind=kind, new=plot_collection is None)
    return pc


def _checked_visual_keys(visuals, aes_by_visuals):
    """Copies of ``visuals`` and ``aes_by_visuals``; unknown visual names raise."""
    visuals = dict(visuals or {})
    unknown = [k for k in visuals if k not in VISUAL_NAMES]
    if unknown:
        raise InvalidInputError(f"unknown visuals {unknown}; valid keys are {list(VISUAL_NAMES)}")
    aes_by_visuals = dict(aes_by_visuals or {})
    unknown = [k for k in aes_by_visuals if k not in VISUAL_NAMES]
    if unknown:
        raise InvalidInputError(f"unknown aes_by_visuals keys {unknown}; valid keys are {list(VISUAL_NAMES)}")
    return visuals, aes_by_visuals


def _collection(pdata, facet, *, plot_collection, backend, kind, col_wrap, figsize, pc_kwargs):
    """The PlotCollection to draw on (a new one, or the user's, whose backend must agree) and its backend."""
    from arviz_base import rcParams

    if plot_collection is None:
        backend = backend or rcParams["plot.backend"]
        pc = _new_collection(pdata, facet, kind=kind, backend=backend, col_wrap=col_wrap, figsize=figsize,
                             pc_kwargs=pc_kwargs)
        return pc, backend
    pc = plot_collection
    if backend is not None and backend != pc.backend:
        raise InvalidInputError(f"backend={backend!r} differs from the plot_collection's backend {pc.backend!r}")
    return pc, pc.backend


def _drawer(pc, pdata, geo, *, visuals, aes_by_visuals, kind, backend):
    """A function ``draw(name, func, data_key=None, which=None, **kwargs)`` mapping one visual over the panels.

    The curve visuals use every mapped aesthetic by default (the overlay colour) and are always
    looped over the overlay; the reference lines use none.
    """
    all_aes = set(pc.aes_set)
    for name in CURVE_VISUALS:
        aes_by_visuals.setdefault(name, all_aes)

    loop_aes = {a for a in all_aes if a.startswith("overlay")}

    def ignore(name):
        keep = set(aes_by_visuals.get(name, set()))
        return all_aes.difference(keep | loop_aes if name in CURVE_VISUALS else keep)

    def draw(name, func, data_key=None, which=None, **kwargs):
        kw = _visual_kwargs(visuals, name, backend)
        if kw is False:
            return
        if "color" not in aes_by_visuals.get(name, set()) or not pdata.is_overlay:
            kw.setdefault("color", "C0" if name in CURVE_VISUALS else "B2")
        coords = {"panel": which} if (kind == "both" and which is not None) else None
        pc.map(func, name, data=geo[data_key or name], ignore_aes=ignore(name), coords=coords, **kwargs, **kw)

    return draw


def _draw_mass_view(draw, geo):
    """The mass view's visuals: band, reference lines, fitted index, curves and the annotations."""
    draw("mass_band", vis.band, which="mass")
    draw("reference", vis.lines_xy, which="mass", dim="ref", artist_dims={"ref": geo["reference"].sizes["ref"]})
    draw("fit", vis.line_xy, which="mass")
    draw("mass", vis.line_xy, which="mass")
    draw("mass_unresolved", vis.line_xy, which="mass")
    draw("reference_text", vis.texts_xy, which="mass", dim="ref", text=geo["reference_str"],
         horizontal_align="right", vertical_align="top",
         artist_dims={"ref": geo["reference_text"].sizes["ref"]})
    align = geo["index_align"]
    draw("index_text", vis.text_xy, which="mass", text=geo["index_str"],
         horizontal_align=align.sel(align="horizontal", drop=True),
         vertical_align=align.sel(align="vertical", drop=True))


def _draw_slope_view(draw, geo):
    """The slope view's visuals: band, reference slopes, the asymptote ``a``, curves and its text."""
    draw("slope_band", vis.band, which="slope")
    draw("slope_reference", vis.hlines, which="slope", dim="ref",
         artist_dims={"ref": geo["slope_reference"].sizes["ref"]})
    draw("asymptote", vis.hline, which="slope")
    draw("slope", vis.line_xy, which="slope")
    draw("slope_unresolved", vis.line_xy, which="slope")
    draw("asymptote_text", vis.text_xy, which="slope", text=geo["asymptote_str"],
         horizontal_align="right", vertical_align="top")


def _draw_axes(pc, pdata, geo, *, visuals, backend, kind, which):
    """Log axes with their limits, and the axis labels, of each view."""
    from arviz_plots.visuals import labelled_x, labelled_y

    xlabel, ylabel_m, ylabel_s = axis_labels(pdata)
    for w in which:
        coords = {"panel": w} if kind == "both" else None
        pc.map(vis.log_axes, f"axes_{w}", data=geo["limits"], ignore_aes="all", coords=coords, which=w)
        kw = _visual_kwargs(visuals, "xlabel", backend)
        if kw is not False:
            pc.map(labelled_x, f"xlabel_{w}", data=geo["limits"], ignore_aes="all", coords=coords,
                   text=xlabel, **kw)
        kw = _visual_kwargs(visuals, "ylabel", backend)
        if kw is not False:
            pc.map(labelled_y, f"ylabel_{w}", data=geo["limits"], ignore_aes="all", coords=coords,
                   text=ylabel_m if w == "mass" else ylabel_s, **kw)


def _draw_titles(pc, facet, odim, *, visuals, backend, labeller):
    """Panel titles (``theta[Choate] @ mean``) of the panels with data."""
    kw = _visual_kwargs(visuals, "title", backend)
    if kw is not False:
        title_data = facet.isnull().all(odim) if odim in facet.dims else facet.isnull()
        title_data = xr.where(title_data, np.nan, 1.0)
        pc.map(vis.panel_title_visual, "title", data=title_data, ignore_aes="all", subset_info=True,
               labeller=labeller, **kw)


def _draw_legends(pc, pdata, *, visuals, backend, kind, new):
    """The overlay legend (once per collection) and, on a new collection, the key of line styles."""
    odim = pdata.overlay
    has_legend = "legend" in pc.viz.children and odim in pc.viz["legend"].data_vars  # a reused collection's
    if pdata.is_overlay and visuals.get("legend", True) is not False and not has_legend:
        legend_kw = visuals.get("legend") if isinstance(visuals.get("legend"), dict) else {}
        pc.add_legend(odim, **legend_kw)
    kwargs, labels = _key_entries(pdata, backend, visuals, kind)
    if visuals.get("key", True) is not False and new and labels:
        plot_bknd = import_module(f"arviz_plots.backend.{backend}")
        key_kw = visuals.get("key") if isinstance(visuals.get("key"), dict) else {}
        if backend == "plotly":
            # a horizontal key under the panels: the overlay legend keeps the right-hand side
            # (plotly stacks legends at fixed heights, and they overlap on short figures)
            key_kw = {"update_visuals": False, "legend_orientation": "h", "legend_x": 0.0,
                      "legend_xanchor": "left", "legend_y": -0.28, "legend_yanchor": "top", **key_kw}
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="This target plot already contains a legend")
            pc.viz["legend/line styles"] = plot_bknd.legend(pc, kwargs, labels, title=None, legend_dim=("key",),
                                                            **key_kw)
