"""Tabular summary of Mass Indices: one row per variable element and centre."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ._api import (CentersLike, Coords, DataLike, FilterVars, Group, Method, Norm, RadiiLike, SampleDims, VarNames,
                   given, public)
from ._compat import get_group, is_datatree, is_inferencedata
from .results import (center_text, element_labels, joint_dim, read, stale_reason, status_note, status_word,
                      stored_centers, warn_stale)
from .errors import InvalidInputError


#: significant digits of the default display (``round_to="auto"``): estimates, interval ends
AUTO_DIGITS = 3
AUTO_INTERVAL_DIGITS = 2
FORMATS = ("wide", "long")


def _round_sig(x, digits, how=np.round):
    """``x`` rounded to ``digits`` significant digits (inf, NaN and 0 unchanged).

    ``how``: ``np.floor`` or ``np.ceil`` to round down or up (an interval's ends, outward).
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mag = np.floor(np.log10(np.abs(x)))
        scale = np.where(np.isfinite(mag), 10.0 ** (digits - 1 - mag), 1.0)
        out = how(x * scale) / scale
    keep = np.isfinite(x) & (x != 0)
    # (tiny and huge values, 1e-310 or 1e306: the power overflows; round them by their text)
    odd = keep & ~np.isfinite(out)
    if np.any(odd):
        out = np.array(out, copy=True)
        out[odd] = [float(f"{v:.{digits}g}") for v in x[odd]]
    return np.where(keep, out, x)


#: counts, shown whole and never rounded
_COUNTS = ("n_window", "n_divergent", "divergent_near")
#: locations, not rounded by the default display (a switch point's centres 1890, 1890.5 and 1891
#: all showed 1890.0 at three significant digits); ``round_to=<digits>`` rounds them too
_LOCATIONS = ("center_value",)


def _digits_for(stat):
    if str(stat) in _COUNTS or str(stat) in _LOCATIONS:
        return None
    return AUTO_INTERVAL_DIGITS if str(stat).endswith(("_lower", "_upper")) else AUTO_DIGITS


def _rounded(df, digits=None):
    """A copy with every float column rounded (``digits`` significant digits, or the auto rule).

    Counts (``n_window``) are left whole; the long format is rounded per statistic.
    """
    out = pd.DataFrame(df).copy()
    if "stat" in (out.index.names or []) and list(out.columns) == ["value"]:
        stat = out.index.get_level_values("stat")
        vals = pd.to_numeric(out["value"], errors="coerce").to_numpy(dtype=float)
        numeric = pd.to_numeric(out["value"], errors="coerce").notna().to_numpy()
        new = np.array(out["value"].astype(object).to_numpy(), dtype=object, copy=True)
        for i in np.flatnonzero(numeric):
            d = digits if digits is not None else _digits_for(stat[i])
            if d is not None and str(stat[i]) not in _COUNTS:
                new[i] = float(_round_sig(vals[i], d))
        out["value"] = new if not numeric.all() else new.astype(float)
        return out
    raw = pd.DataFrame(df)
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            d = digits if digits is not None else _digits_for(col)
            if d is None or str(col) in _COUNTS:
                continue
            if digits is None and str(col).endswith(("_lower", "_upper")):
                out[col] = _interval_end(raw, str(col), d)
            else:
                out[col] = _round_sig(out[col].to_numpy(), d)
    return out


def _interval_end(df, col, digits):
    """An interval's end for display: rounded outward, with digits enough to keep the ends apart.

    At two significant digits ``36.07 [35.99, 36.15]`` showed as ``36.1 [36.0, 36.0]``, the estimate
    outside its own printed interval; outward, with a digit more wherever the two ends would round
    alike (up to six), it shows ``36.1 [35.9, 36.2]``, and the printed interval holds the raw one.
    """
    low = col.endswith("_lower")
    partner = col[: -len("_lower")] + "_upper" if low else col[: -len("_upper")] + "_lower"
    x = df[col].to_numpy(dtype=float)
    other = df[partner].to_numpy(dtype=float) if partner in df.columns else None
    how = np.floor if low else np.ceil
    out = _round_sig(x, digits, how)
    if other is None:
        return out
    need = np.ones(x.shape, bool)  # (cells whose digits are not settled yet)
    for d in range(digits, 7):
        mine = _round_sig(x, d, how)
        # (enough digits: the two ends differ when rounded to nearest, so the outward ends are not
        # a coarser grid's, 35 and 37 for 35.99 and 36.15)
        with np.errstate(invalid="ignore"):
            apart = ((_round_sig(x, d) != _round_sig(other, d)) | (x == other) | ~np.isfinite(x)
                     | ~np.isfinite(other))
        take = need & (apart | (d == 6))
        out = np.where(take, mine, out)
        need &= ~take
        if not need.any():
            break
    return out


class SummaryDataFrame(pd.DataFrame):
    """The summary table: raw numbers, shown rounded (``round_to="auto"``).

    Arithmetic, ``.loc`` and file export see the raw numbers; printing and
    notebooks show estimates with 3 and interval ends with 2 significant
    digits, ``n_window`` as a whole number (as ArviZ's ``summary`` does with
    ``round_to="auto"``).
    """

    @property
    def _constructor(self):
        return SummaryDataFrame

    def _display(self):
        out = _rounded(self)
        if "n_window" in out.columns and np.all(np.isfinite(out["n_window"].to_numpy(dtype=float))):
            out["n_window"] = out["n_window"].astype(int)
        return pd.DataFrame(out)

    def __repr__(self):
        return repr(self._display())

    def _repr_html_(self):
        return self._display()._repr_html_()

    def to_string(self, *args, **kwargs):
        """The rounded display as text (arguments as :meth:`pandas.DataFrame.to_string`)."""
        return self._display().to_string(*args, **kwargs)


def _format(df, round_to, fmt):
    if fmt not in FORMATS:
        raise InvalidInputError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if isinstance(round_to, str) and round_to.lower() == "none" or round_to is False:
        out = pd.DataFrame(df)
    elif round_to is None or (isinstance(round_to, str) and round_to == "auto"):
        out = SummaryDataFrame(df)
    elif isinstance(round_to, (int, np.integer)) and not isinstance(round_to, bool) and round_to >= 1:
        out = _rounded(df, int(round_to))
    else:
        raise InvalidInputError(f"round_to must be 'auto', 'none' or a whole number of significant digits >= 1, "
                         f"got {round_to!r}")
    if fmt == "long":
        cls = type(out)
        stacked = pd.DataFrame(out).stack(future_stack=True) if _STACK_FUTURE else pd.DataFrame(out).stack(
            dropna=False)
        stacked.index = stacked.index.set_names(["variable", "center", "stat"])
        out = cls(stacked.to_frame("value"))
    return out


try:  # pandas >= 2.1 warns unless told which stack implementation to use
    pd.DataFrame([[1]]).stack(future_stack=True)
    _STACK_FUTURE = True
except TypeError:  # pragma: no cover - older pandas
    _STACK_FUTURE = False


@public()
def summary(data: DataLike, *, var_names: VarNames = None, filter_vars: FilterVars = None, coords: Coords = None,
            group: Group = "posterior", sample_dims: SampleDims = ("chain", "draw"), centers: CentersLike | None = None,
            radii: RadiiLike = None, n_radii: int = 25,
            norm: Norm = "euclidean", joint: bool = False, method: Method = "auto", model: Any = None,
            ci_prob: float | None = None, min_ess: float = 10.0, window: int | Sequence[int] | None = None,
            nan_policy: Literal["raise", "omit"] = "raise", progressbar: bool | None = None,
            independent: bool | None = None, fmt: Literal["wide", "long"] = "wide",
            round_to: Literal["auto", "none"] | int = "auto") -> pd.DataFrame:
    """Mass Index table: one row per variable element and centre.

    Parameters
    ----------
    data : container with a ``local_mass_index`` group, a results Dataset, or draws
        Draws are analysed with :func:`pymc_localmass.mass_index` first
        (with the options below). A container with stored results gives
        their rows (a variable they lack is analysed from the draws); with
        options other than the defaults (e.g. another ``ci_prob``) it is
        analysed again at the stored variables and centres unless
        ``centers`` is given (``centers="mean"`` too: the default is
        ``None``, the stored centres). Results computed from other draws
        than the container now holds (``idata.sel(chain=[0, 1, 2])``) are
        analysed again, with a warning.
    var_names : str or list of str, optional
        Restrict the rows to these variables (ArviZ-style: ``~`` excludes).
    filter_vars : {None, "like", "regex"}, optional
        How ``var_names`` match, as in ArviZ.
    coords, group, sample_dims, centers, radii, n_radii, norm, joint, method, model
        As in :func:`pymc_localmass.local_mass` (for draws, or to analyse
        stored results' draws again).
    ci_prob, min_ess, window, nan_policy, progressbar, independent
        As in :func:`pymc_localmass.local_mass`.
    round_to : "auto", "none" or int, default "auto"
        As in ArviZ's ``summary``. ``"auto"``: the numbers are kept raw and
        shown with 3 significant digits (interval ends with 2); ``"none"``:
        raw numbers shown as pandas does; an int: every float column rounded
        to that many significant digits. Other columns (text) pass through.
    fmt : {"wide", "long"}, default "wide"
        ``"wide"``: one row per variable element and centre, one column per
        statistic; ``"long"``: one row per variable element, centre and
        statistic (index ``(variable, center, stat)``, column ``value``).

    Returns
    -------
    pandas.DataFrame
        Index ``(variable, center)``; columns the ``index_stat`` labels
        (``a``, ``a_lower``, ..., ``atom``, ``center_value``, ``scale``, ...,
        ``nearest``, ``r_resolved``, ...) and, last, ``status`` (a word:
        "ok", "atom", "lattice", "log-ambiguous", "unresolved", "sampler"; see
        docs/schema.md) and ``note`` (one plain line saying why, and what to
        do; empty when "ok"). With ``round_to="auto"`` a
        :class:`SummaryDataFrame` (a DataFrame that prints rounded).

    See Also
    --------
    pymc_localmass.mass_index : The Dataset these rows come from.
    pymc_localmass.check : Findings, with what to do, for rows that are not "ok".
    pymc_localmass.compare_summary : The table of a comparison of fits.

    Examples
    --------
    >>> import numpy as np, pymc_localmass as plm
    >>> rng = np.random.default_rng(0)
    >>> df = plm.summary({"x": rng.normal(size=(4, 500, 2))})
    >>> list(df.index.names), df.shape[0]
    (['variable', 'center'], 2)
    >>> a = float(plm.summary({"x": rng.normal(size=(4, 500))}, round_to=2).loc[("x", "mean"), "a"])
    >>> a == float(f"{a:.2g}")                         # 2 significant digits
    True
    >>> plm.summary({"x": rng.normal(size=(4, 500))}, fmt="long").index.names
    FrozenList(['variable', 'center', 'stat'])
    """
    kwargs = {k: v for k, v in given(summary, locals()).items()
              if k not in ("var_names", "filter_vars", "fmt", "round_to")}
    index = _index_of(data, var_names, filter_vars, kwargs)
    return _format(_rows(index), round_to, fmt)


def _stored_and_missing(data, stored, var_names, filter_vars):
    """The stored rows of the variables asked for, and those of the draws' variables they lack, computed.

    ``summary(out, var_names=["tau", "mu"])`` with ``tau`` stored at 0: ``tau``'s stored rows and
    ``mu``'s at its mean (the default), as ``summary`` of the draws would give them.
    """
    from .adapters import select_vars
    from .estimators import mass_index

    names = [var_names] if isinstance(var_names, str) else list(var_names or [])
    # (patterns and exclusions select among the stored variables; a name given outright that they
    # lack is computed from the draws)
    if not names or filter_vars is not None or any(str(n).startswith("~") for n in names):
        return mass_index(stored, var_names=var_names, filter_vars=filter_vars)
    group = str(stored.attrs.get("source_group", "posterior"))
    try:
        draws = get_group(data, group)
        wanted = select_vars(draws, var_names, filter_vars)
    except (KeyError, AttributeError, TypeError, ValueError):
        wanted = None
    missing = [n for n in (wanted or []) if n not in stored.data_vars]
    if not missing:  # (stored variables only, or names only the stored results know: a joint ball's)
        return mass_index(stored, var_names=var_names, filter_vars=filter_vars)
    have = [n for n in wanted if n in stored.data_vars]
    fresh = mass_index(data, var_names=missing)
    if not have:
        return fresh
    both = xr.merge([mass_index(stored, var_names=have), fresh], join="outer", combine_attrs="drop_conflicts")
    return both[wanted]


#: centre labels that name a summary of the draws (computed again from the draws a container holds now)
_SUMMARY_KEYWORDS = ("mean", "median", "mode")


def _index_of(data, var_names, filter_vars, kwargs):
    """The Mass Index Dataset the rows come from: given, stored, or computed from draws.

    A container's stored index is read as is when no option differs from the defaults
    (``kwargs`` holds the options given); otherwise its draws are analysed again at the
    stored variables and centres (unless ``centers`` is given).
    """
    from .estimators import is_results, mass_index

    if isinstance(data, xr.Dataset) and {"region", "model"} <= set(data.dims):
        raise InvalidInputError("summary() reads Mass Indices; this is the result of compare() (dims region, "
                                "model): its table is plm.compare_summary(result)")
    index = None
    if is_results(data, "index_stat"):
        index = data
    elif is_datatree(data) or is_inferencedata(data):
        got = read(data)
        stored = got[1] if got is not None else None
        stale = stored is not None and stale_reason(data, got[0])
        if stale:  # (computed again below, at the stored variables and centres)
            warn_stale(stale)
        if stored is not None and not kwargs and not stale:
            return _stored_and_missing(data, stored, var_names, filter_vars)
        elif stored is not None and "centers" not in kwargs and not int(stored.attrs.get("joint", 0)) \
                and not kwargs.get("joint"):
            # computed again (other settings), at the stored analysis's centres and variables
            sel = mass_index(stored, var_names=var_names, filter_vars=filter_vars)
            names = list(sel.data_vars)
            if stale:  # (variables the group no longer holds are left out)
                try:
                    now = get_group(data, str(stored.attrs.get("source_group", "posterior")))
                    names = [n for n in names if n in now.data_vars] or None
                except (KeyError, AttributeError, TypeError, ValueError):
                    pass
            if names is None:  # (none of them: the group's variables now, at the default centres)
                return mass_index(data, **kwargs)
            sel = sel[names]
            kwargs["centers"] = stored_centers(stored, names)
            if stale:  # (a summary of the draws is taken of the draws the container holds now)
                kwargs["centers"] = {n: {lab: lab if lab in _SUMMARY_KEYWORDS else v for lab, v in spec.items()}
                                     for n, spec in kwargs["centers"].items()}
            var_names, filter_vars = names, None
            if "coords" not in kwargs:  # the stored elements (a coords= selection at the time)
                kwargs["coords"] = {d: sel[d].values for d in sel.dims
                                    if d in sel.coords and d not in ("center", "index_stat", "group")}
    if index is None:
        return mass_index(data, var_names=var_names, filter_vars=filter_vars, **kwargs)
    return mass_index(index, var_names=var_names, filter_vars=filter_vars)


def _rows(index):
    """One row per variable element and centre analysed, with its ``status`` word and ``note``."""
    names = list(index.data_vars)
    stats_labels = [str(s) for s in index["index_stat"].values]
    rows, keys = [], []
    for name in names:
        da = index[name]
        for sel, label in element_labels(da):
            sub = da.sel(sel) if sel else da
            for center in sub["center"].values:
                vals = sub.sel(center=center).values.astype(float)
                if np.all(np.isnan(vals)):
                    continue  # centre not requested for this variable
                rows.append(vals)
                keys.append((label, str(center)))
    df = pd.DataFrame(rows, columns=stats_labels,
                      index=pd.MultiIndex.from_tuples(keys, names=["variable", "center"]))
    # what each row's evidence supports: a word, and one plain line when it is not "ok"
    records = df.to_dict("records")
    df["status"] = [status_word(r) for r in records]
    dim = joint_dim(index.attrs)
    tier, independent = index.attrs.get("tier"), bool(index.attrs.get("independent", 0))
    df["note"] = [status_note(r, name=k[0], center=center_text(k[1], r.get("center_value", np.nan)), dim=dim,
                              tier=tier, independent=independent)
                  for r, k in zip(records, keys)]
    return df

