"""Plots of local-mass results: ``plot_local_mass`` (also ``arviz.plot_local_mass``).

The plots read the results schema (docs/schema.md) only. When the input has no
``local_mass`` results they are computed with the public estimators
(:func:`pymc_localmass.local_mass`, :func:`pymc_localmass.mass_index`) and a
:class:`LocalMassComputedWarning` says so.

ArviZ 1.x: built on arviz-plots' ``PlotCollection`` (backends matplotlib,
bokeh, plotly), returns the ``PlotCollection``. ArviZ 0.2x: matplotlib,
returns the array of axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from .._api import Coords, FilterVars, Group, VarNames, _check_flag
from .._compat import MODERN
from ._prepare import KINDS, LocalMassComputedWarning, cap_panels, check_kind, collect, geometry
from ..errors import InvalidInputError, InvalidTypeError

__all__ = ["plot_local_mass", "register", "save_figure", "LocalMassComputedWarning", "KINDS"]


def plot_local_mass(
    data: Any,
    *,
    var_names: VarNames = None,
    filter_vars: FilterVars = None,
    group: Group | None = None,
    coords: Coords = None,
    kind: Literal["mass", "slope", "both"] = "mass",
    labeller: Any = None,
    stats: Mapping[str, Mapping[str, Any]] | None = None,
    col_wrap: int | None = None,
    plot_collection: Any = None,
    backend: Literal["matplotlib", "bokeh", "plotly"] | None = None,
    visuals: Mapping[str, Mapping[str, Any] | Literal[False]] | None = None,
    aes_by_visuals: Mapping[str, Sequence[str]] | None = None,
    ax: Any = None,
    figsize: tuple[float, float] | None = None,
    backend_kwargs: Mapping[str, Any] | None = None,
    show: bool | None = None,
    **pc_kwargs: Any,
) -> Any:
    """Plot small-ball mass curves, finite-radius slopes and the Mass Index.

    One panel per variable element and centre (centres a variable was not
    analysed at are skipped): the log-log mass ``m(r)`` against the radius
    with its interval band, unresolved radii dashed and faded, reference
    lines of slope ``1..d`` (``d = 1`` elementwise, the number of coordinates
    for a joint ball) and the fitted index ``log m = a log r + b log log(1/r)
    + c`` through the curve, annotated with ``a`` and ``b`` (with intervals)
    and the atom weight when there is one. ``kind="slope"`` shows the
    finite-radius slope ``d log m / d log r`` with its band and the fitted
    asymptote ``a``; ``kind="both"`` puts the two side by side.

    Parameters
    ----------
    data : DataTree, InferenceData, Dataset, dict or mapping of fits
        * a container with ``local_mass`` / ``local_mass_index`` groups (read as stored);
        * a ``local_mass`` results Dataset (the index is then fitted from its curves
          with :func:`pymc_localmass.mass_index`), or a ``(curves, index)`` tuple;
        * plain draws (a container without results, a Dataset with ``chain``/``draw``
          or a dict of arrays): results are computed on the fly, with a
          :class:`LocalMassComputedWarning`;
        * a mapping ``{"NUTS": idata, "ADVI": idata2}``: an overlay of fits, coloured by a
          ``model`` dimension, at the first fit's centres and absolute radii (fits
          without matching results are computed with ``radii=`` from the first).
    var_names : str or list of str, optional
        Result variables to plot (``~`` excludes; joint balls are named ``"tau+theta"``).
    filter_vars : {None, "like", "regex"}, optional
    coords : dict, optional
        Subset of element coordinates and/or of ``center`` labels, e.g.
        ``{"school": ["Choate"], "center": ["mean"]}``.
    kind : {"mass", "slope", "both"}, default "mass"
    group : str or list of str, optional
        Group of draws to analyse. By default (None) the stored results are read
        whichever group they were computed from (their ``source_group``; results
        computed for several groups at once are overlaid along their ``group``
        dimension), and ``"posterior"`` is analysed when there are none. (Unlike
        ``local_mass`` and ``summary``, whose default is ``"posterior"``: a plot of a
        container first looks for the results it carries, and ``group="posterior"``
        would pass over results stored from another group.) A list such as
        ``["prior", "posterior"]`` overlays the groups (coloured by a ``group``
        dimension) at the first group's radii, as in the paper's Figure 2.
    labeller : labeller, optional
        ArviZ labeller for the element part of the titles (``theta[Choate] @ mean``).
    stats : mapping, optional
        ``{"local_mass": {...}}``: keyword arguments for the estimators when results
        are computed here (e.g. ``{"local_mass": {"centers": {"tau": 0.0}}}``);
        ignored for stored results, with a ``UserWarning`` (compute them with
        these options first, e.g. ``plm.add_local_mass(idata, centers=3.0)``).
    col_wrap : int, optional
        Panels per row for ``kind="mass"``/``"slope"`` (default 4).
    plot_collection : PlotCollection, optional
        (ArviZ 1.x) Draw into an existing collection faceted like this plot.
    backend : {"matplotlib", "bokeh", "plotly"}, optional
        (ArviZ 1.x) Default ``arviz_base.rcParams["plot.backend"]``.
    visuals : mapping of {str : mapping or False}, optional
        Keyword arguments for (or ``False`` to hide) each visual: ``mass``,
        ``mass_unresolved``, ``mass_band``, ``slope``, ``slope_unresolved``,
        ``slope_band``, ``fit``, ``reference``, ``reference_text``,
        ``slope_reference``, ``asymptote``, ``asymptote_text``, ``index_text``,
        ``title``, ``xlabel``, ``ylabel``, ``legend`` (the overlay legend) and
        ``key`` (the legend of line styles).
    aes_by_visuals : mapping of {str : list of str}, optional
        (ArviZ 1.x) Aesthetics each visual uses; by default the curve visuals use
        all mapped aesthetics (the overlay colour) and the reference lines none.
    ax : array of matplotlib Axes, optional
        (ArviZ 0.2x) Axes to draw on, at least one per panel (two per panel for
        ``kind="both"``).
    figsize : (float, float), optional
        Figure size in inches (both generations).
    backend_kwargs : dict, optional
        (ArviZ 0.2x) Passed to :func:`matplotlib.pyplot.subplots`.
    show : bool, optional
        (ArviZ 0.2x) Call ``plt.show()``.
    **pc_kwargs
        (ArviZ 1.x) Passed to the ``PlotCollection`` (e.g. ``figure_kwargs``, ``aes``).

    Returns
    -------
    PlotCollection (ArviZ 1.x) or numpy.ndarray of matplotlib Axes (ArviZ 0.2x)
        The Axes array is 1-D (one per panel) or ``(n_panels, 2)`` for ``kind="both"``.

    See Also
    --------
    pymc_localmass.local_mass : The curves plotted.
    pymc_localmass.mass_index : The index drawn through them.
    pymc_localmass.plots.save_figure : Save the result of either generation to a file.

    Examples
    --------
    >>> import numpy as np, arviz as az, pymc_localmass as plm
    >>> from pymc_localmass.plots import plot_local_mass
    >>> rng = np.random.default_rng(0)
    >>> draws = {"tau": np.abs(rng.normal(size=(2, 300))), "theta": rng.normal(size=(2, 300, 2))}
    >>> idata = az.from_dict({"posterior": draws}) if plm._compat.MODERN else az.from_dict(posterior=draws)
    >>> idata = plm.add_local_mass(idata, centers={"tau": 0.0, "theta": "mean"})
    >>> out = plot_local_mass(idata)          # one panel per element and centre: 3 here
    >>> out = plot_local_mass(idata, var_names="tau", kind="both")
    """
    check_kind(kind)
    _check_flag("plot_local_mass", "show", show, True)
    if backend is not None and backend not in ("matplotlib", "bokeh", "plotly"):
        raise InvalidInputError(f"backend must be 'matplotlib', 'bokeh' or 'plotly', got {backend!r}")
    pdata = collect(data, var_names=var_names, filter_vars=filter_vars, coords=coords, group=group, stats=stats)
    pdata = cap_panels(pdata, kind)
    geo = geometry(pdata)
    col_wrap = 4 if col_wrap is None else col_wrap
    if MODERN:
        return _plot_modern(pdata, geo, kind=kind, labeller=labeller, plot_collection=plot_collection,
                            backend=backend, visuals=visuals, aes_by_visuals=aes_by_visuals, figsize=figsize,
                            col_wrap=col_wrap, legacy_args={"ax": ax, "backend_kwargs": backend_kwargs, "show": show},
                            pc_kwargs=pc_kwargs)
    return _plot_legacy(pdata, geo, kind=kind, labeller=labeller, backend=backend, visuals=visuals, ax=ax,
                        figsize=figsize, backend_kwargs=backend_kwargs, show=show, col_wrap=col_wrap,
                        modern_args={"plot_collection": plot_collection, "aes_by_visuals": aes_by_visuals},
                        pc_kwargs=pc_kwargs)


def _plot_modern(pdata, geo, *, legacy_args, pc_kwargs, **kwargs):
    """ArviZ 1.x: draw on a PlotCollection; the ArviZ 0.2x arguments (``legacy_args``) must be None."""
    for name, value in legacy_args.items():
        if value is not None:
            raise InvalidTypeError(
                f"{name}= is an ArviZ 0.2x argument; with ArviZ 1.x use plot_collection=, backend=, "
                "figure_kwargs= and the returned PlotCollection's .show()"
            )
    from ._modern import plot

    return plot(pdata, geo, **kwargs, **pc_kwargs)


def _plot_legacy(pdata, geo, *, backend, modern_args, pc_kwargs, **kwargs):
    """ArviZ 0.2x: draw with matplotlib; the ArviZ 1.x arguments (``modern_args``, ``**pc_kwargs``) must be unset."""
    for name, value in modern_args.items():
        if value is not None:
            raise InvalidTypeError(f"{name}= needs ArviZ 1.x (arviz-plots); with ArviZ 0.2x use ax= and figsize=")
    if backend not in (None, "matplotlib"):
        raise InvalidInputError(f"with ArviZ 0.2x plot_local_mass supports backend='matplotlib' only, got {backend!r}")
    if pc_kwargs:
        raise InvalidTypeError(f"unexpected keyword argument(s) {sorted(pc_kwargs)}")
    from ._legacy import plot

    return plot(pdata, geo, **kwargs)


def save_figure(result, path, **kwargs):
    """Save what :func:`plot_local_mass` returned, in either generation.

    Parameters
    ----------
    result : PlotCollection or array of matplotlib Axes
    path : str or path-like
        The extension picks the format (``.png``; ``.html`` for bokeh/plotly
        collections, written self-contained: no network needed to open it).
    **kwargs
        Passed to ``PlotCollection.savefig`` or ``Figure.savefig`` (e.g. ``dpi``).

    Returns
    -------
    str
        ``path``.

    Examples
    --------
    >>> import numpy as np, pymc_localmass as plm
    >>> from pymc_localmass.plots import plot_local_mass, save_figure
    >>> res = plm.local_mass({"x": np.random.default_rng(0).normal(size=(2, 200))})
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "local_mass.png")
    >>> save_figure(plot_local_mass(res), path) == path and os.path.getsize(path) > 0
    True
    """
    import numpy as np

    path = str(path)
    if hasattr(result, "savefig"):  # PlotCollection
        fig = result.get_viz("figure")
        fig = getattr(fig, "item", lambda: fig)() if hasattr(fig, "dims") else fig
        kind = type(fig).__module__.split(".")[0]
        if path.lower().endswith(".html") and kind in ("bokeh", "plotly"):
            # self-contained: the page must open without network access
            if kind == "bokeh":
                from bokeh.embed import file_html
                from bokeh.resources import INLINE

                html = file_html(fig, INLINE, kwargs.pop("title", "local mass"))
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(html)
            else:
                fig.write_html(path, include_plotlyjs=True, **kwargs)
            return path
        result.savefig(path, **kwargs)
        return path
    fig = np.ravel(np.asarray(result, dtype=object))[0].figure
    fig.savefig(path, **kwargs)
    return path


def register():
    """Make ``arviz.plot_local_mass`` this package's :func:`plot_local_mass`.

    Sets that one attribute of the ``arviz`` module and nothing else; called by
    ``import pymc_localmass``.

    Examples
    --------
    >>> import arviz as az
    >>> from pymc_localmass import plots
    >>> plots.register() is az.plot_local_mass is plots.plot_local_mass
    True
    """
    import arviz

    arviz.plot_local_mass = plot_local_mass
    return plot_local_mass
