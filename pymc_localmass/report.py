"""``report()``: one self-contained HTML page comparing fits region by region.

The page needs no network to be viewed: figures are PNGs embedded as base64
data URIs and the styles are inline. It holds the :func:`check` findings with
a plain-language reading of each, the comparison table of
:func:`~pymc_localmass.compare.compare_summary` (masses with intervals, ratios,
the ELBO-blindness bound ``phi(q(A), p(A))``, the interval of reference
masses compatible with a global KL bound when there is one) and two figures:
the mass curves of every fit over the same radii, and, per region, the
reference mass next to the least the reverse KL (ELBO) and the forward KL
must register for the discrepancy.

The file is written atomically (a temporary file in the same directory,
then ``os.replace``), so a failed run leaves no partial report.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from . import __version__
from ._api import CentersLike, Coords, RadiiLike, VarNames, public
from ._compat import single_fit_type
from ._validate import named_fits
from .errors import InvalidInputError, InvalidTypeError, UnknownNameError
from .estimators import describe_fit

__all__ = ["report"]

#: lowest mass or KL drawn in the figures (smaller values fall off the bottom)
FLOOR = 1e-30

_CSS = """
body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:24px 32px;color:#222;max-width:1150px}
h1{font-size:24px;margin-bottom:4px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ccc}
.meta{color:#555;font-size:13px} table{border-collapse:collapse;font-size:12px;margin-top:8px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right} th{background:#f3f3f3}
td.l,th.l{text-align:left} tr.flag td{background:#fff1f0} .finding{margin:10px 0;padding:8px 12px;
border-left:4px solid #d9534f;background:#fdf7f7} .finding code{font-size:12px;color:#444}
.todo{margin-top:6px}
.ok{padding:8px 12px;border-left:4px solid #5cb85c;background:#f4fbf4} img{max-width:100%}
.note{font-size:12px;color:#555}
"""


def _fmt(x):
    if x is None:
        return ""
    x = float(x)
    if np.isnan(x):
        return "&ndash;"
    if np.isinf(x):
        return "&infin;" if x > 0 else "&minus;&infin;"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.3g}"
    return f"{x:.2g}"


def _iv(v, lo, hi):
    if np.isfinite(v) and lo == hi == v:
        return f"{_fmt(v)} (exact)"
    return f"{_fmt(v)} [{_fmt(lo)}, {_fmt(hi)}]"


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _is_approximation(fit):
    """Whether a fit is an approximation rather than draws (as the estimators tell them apart)."""
    return describe_fit(fit, draws=False).is_approximation


def _pick_regions(cmp, findings, max_panels):
    regions = [str(r) for r in cmp["region"].values]
    flagged = []
    for f in findings:
        key = f"{f.variable} @ {f.center}"
        if key in regions and key not in flagged:
            flagged.append(key)
    centres = [str(c) for c in cmp["center"].values]
    boundary = [r for r, c in zip(regions, centres) if c not in ("mean", "median", "mode") and r not in flagged]
    rest = [r for r in regions if r not in flagged and r not in boundary]
    return (flagged + boundary + rest)[:max_panels]


#: the report's mass panels show at most this factor below the reference's smallest mass
REF_DECADES_BELOW = 1e4


def _mass_figure(cmp, regions):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .plots.axes import tidy_log_axis

    n = len(regions)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
    models = [str(m) for m in cmp["model"].values]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    allreg = [str(r) for r in cmp["region"].values]
    for ax, region in zip(axes.ravel(), regions):
        g = allreg.index(region)
        r = cmp["radius_value"].values[g]
        res = cmp["resolved"].values[g] > 0.5
        shown = []
        for k, mname in enumerate(models):
            col = colors[k % len(colors)]
            m = cmp["mass"].values[k, g]
            lo = cmp["mass_lower"].values[k, g]
            hi = cmp["mass_upper"].values[k, g]
            pos = m > 0
            if k == 0:  # reference: resolved solid with its band, unresolved dashed without
                ok = res & pos
                ax.plot(r[ok], m[ok], "-", color=col, lw=2, label=f"{mname} (reference)")
                ax.plot(r[~res & pos], m[~res & pos], "--", color=col, lw=1.2, alpha=0.6,
                        label=f"{mname}: unresolved radii" if (~res & pos).any() else None)
                band = ok & (lo > 0)
                shown.append(m[ok])
            else:
                ax.plot(r[pos], m[pos], "-", color=col, lw=1.8, label=f"{mname} ({cmp['tier'].values[k]})")
                band = pos & (lo > 0) & (hi > lo)
                shown.append(m[pos])
            if band.any() and np.any(hi[band] > lo[band]):
                ax.fill_between(r[band], lo[band], hi[band], color=col, alpha=0.18, lw=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        rf = r[np.isfinite(r) & (r > 0)]  # regions with fewer radii are NaN-padded
        if rf.size >= 2:  # plain, non-overlapping radius labels on short ranges too
            tidy_log_axis(ax.xaxis, float(rf.min()), float(rf.max()))
        ax.set_title(region, fontsize=10)
        ax.set_xlabel("radius r", fontsize=9)
        ax.set_ylabel("mass m(r)", fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
        vals = np.concatenate([v for v in shown if v.size]) if any(v.size for v in shown) else np.array([1.0])
        low = max(float(np.nanmin(vals)), FLOOR)
        if shown[0].size:
            # the reference's masses set the scale: an approximation far below them (ADVI's 1e-28
            # near tau = 0) leaves through the bottom rather than squash the reference into a sliver
            low = max(low, float(np.nanmin(shown[0])) / REF_DECADES_BELOW)
        ax.set_ylim(low / 3, 2.0)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    # one legend for all panels, below them (inside the first panel it covered curves)
    handles = {}
    for ax in axes.ravel()[:n]:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.suptitle("Small-ball mass of each fit over the reference's radii (bands: intervals)", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=min(4, max(1, len(handles))),
               fontsize=8, frameon=False)
    return fig


def _elbo_figure(cmp, regions):
    import matplotlib.pyplot as plt

    from .plots.axes import tidy_log_axis

    models = [str(m) for m in cmp["model"].values][1:]
    if not models:
        return None
    n = len(regions)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.3 * nrow), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    allreg = [str(r) for r in cmp["region"].values]
    for ax, region in zip(axes.ravel(), regions):
        g = allreg.index(region)
        r = cmp["radius_value"].values[g]
        res = cmp["resolved"].values[g] > 0.5
        r = r[res]
        p = cmp["ref_mass"].values[g][res]
        ax.plot(r, p, "-", color="k", lw=2, label=f"reference mass p(A) ({cmp.attrs['reference']})")
        shown = [p]
        for k, mname in enumerate(models, start=1):
            col = colors[k % len(colors)]
            rev = cmp["phi_reverse"].values[k, g][res]
            fwd = cmp["phi_forward"].values[k, g][res]
            ax.plot(r, rev, "-", color=col, lw=1.6, label=f"{mname}: reverse (ELBO) bound phi(q(A), p(A))")
            ax.plot(r, fwd, ":", color=col, lw=1.6, label=f"{mname}: forward bound phi(p(A), q(A))")
            shown += [rev, fwd]
        vals = np.concatenate(shown)
        vals = vals[np.isfinite(vals) & (vals > 0)]
        if vals.size:
            ax.set_ylim(max(float(vals.min()), FLOOR) / 3, float(vals.max()) * 3)
        if not res.any():
            ax.text(0.5, 0.5, "no radius resolved\nby the reference", ha="center", va="center",
                    transform=ax.transAxes, fontsize=9, color="0.4")
        rf = r[np.isfinite(r) & (r > 0)]  # regions with fewer radii are NaN-padded
        if rf.size and vals.size:  # a log axis needs a positive value to place its ticks
            ax.set_xscale("log")
            ax.set_yscale("log")
        else:  # nothing the reference resolves (e.g. an unreliable reference-free estimate): an empty panel
            ax.set_xticks([])
            ax.set_yticks([])
        if rf.size >= 2 and vals.size:  # plain, non-overlapping radius labels on short ranges too
            tidy_log_axis(ax.xaxis, float(rf.min()), float(rf.max()))
        ax.set_title(region, fontsize=10)
        ax.set_xlabel("radius r", fontsize=9)
        ax.set_ylabel("nats / mass", fontsize=9)
        ax.grid(True, which="major", alpha=0.3)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    lcol = 1 if ncol == 1 else min(3, len(labels))
    fig.legend(handles, labels, loc="upper center", ncol=lcol, fontsize=7.5 if ncol == 1 else 8,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle("Least KL each direction must register for the local discrepancy", fontsize=11)
    fig.tight_layout()
    return fig


def _table_html(summ, flagged_keys, max_rows):
    cols = [("tier", "tier"), ("radius", "radius r"), ("ref", "reference p(A)"), ("q", "fit q(A)"),
            ("ratio", "ratio q(A)/p(A)"), ("phi_rev", "ELBO bound phi(q,p) [nats]"),
            ("phi_fwd", "forward phi(p,q) [nats]"), ("K", "K [nats]"), ("compat", "p(A) compatible with K")]
    head = "<tr><th class='l'>fit</th><th class='l'>region</th>" + "".join(f"<th>{html.escape(t)}</th>"
                                                                          for _, t in cols) + "</tr>"
    body = []
    for n_row, ((mname, region), row) in enumerate(summ.iterrows()):
        if n_row >= max_rows:
            body.append(f"<tr><td class='l' colspan='{len(cols) + 2}'>... {summ.shape[0] - max_rows} more rows "
                        "(see compare_summary)</td></tr>")
            break
        cells = {
            "tier": html.escape(str(row["tier"])),
            "radius": _fmt(row["radius"]) + ("" if row["resolved"] else " (unresolved)"),
            "ref": _iv(row["ref_mass"], row["ref_mass_lower"], row["ref_mass_upper"]),
            "q": _iv(row["mass"], row["mass_lower"], row["mass_upper"]),
            "ratio": _iv(row["ratio"], row["ratio_lower"], row["ratio_upper"]),
            "phi_rev": _iv(row["phi_reverse"], row["phi_reverse_lower"], row["phi_reverse_upper"]),
            "phi_fwd": _fmt(row["phi_forward"]),
            "K": _fmt(row["kl_bound"]),
            "compat": ("" if not np.isfinite(row["ref_compatible_upper"]) else
                       f"[{_fmt(row['ref_compatible_lower'])}, {_fmt(row['ref_compatible_upper'])}]"),
        }
        cls = " class='flag'" if (mname, region) in flagged_keys else ""
        body.append(f"<tr{cls}><td class='l'>{html.escape(str(mname))}</td><td class='l'>{html.escape(str(region))}"
                    "</td>" + "".join(f"<td>{cells[k]}</td>" for k, _ in cols) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _check_path(path):
    """Raise, before any work, where the report could not be written at ``path``."""
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
        raise InvalidTypeError(f"path must be a str or os.PathLike naming the HTML file to write, got "
                               f"{type(path).__name__}")
    path = os.fspath(path)
    if not path:
        raise InvalidInputError("path is empty; give the HTML file to write, e.g. 'report.html'")
    if os.path.isdir(path):
        raise InvalidInputError(f"path {path!r} is a directory; give the HTML file to write, "
                                "e.g. os.path.join(folder, 'report.html')")
    folder = os.path.dirname(os.path.abspath(path))
    while folder and not os.path.exists(folder):  # (missing folders are made; a file among them cannot be)
        folder = os.path.dirname(folder)
    if not os.path.isdir(folder):
        raise InvalidInputError(f"path {path!r} lies under {folder!r}, which is a file, not a folder")


def _write_atomic(path, text):
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".html.tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


@public()
def report(fits: Mapping[str, Any], path: str | os.PathLike[str], *, reference: str | None = None,
           var_names: VarNames = None, coords: Coords = None, group: str = "posterior",
           centers: CentersLike | None = None, radii: RadiiLike = None,
           kl_bound: float | Mapping[str, float] | None = None,
           log_evidence: float | tuple[float, float] | None = None, factor: float = 10.0, prior: bool = True,
           model: Any = None, title: str = "Local-mass report", max_panels: int = 9, max_rows: int = 80,
           ci_prob: float | None = None) -> str:
    """Write one self-contained HTML report comparing fits region by region.

    Parameters
    ----------
    fits : mapping of str to fit, or one fit's container
        As in :func:`~pymc_localmass.compare.compare` (posterior draws, PyMC
        approximations, pymc-extras fits). One DataTree, InferenceData or
        Dataset is reported alone, as ``{"posterior": fits}`` (its own
        masses and :func:`~pymc_localmass.check` findings).
    path : str or path-like
        Output ``.html`` file (written atomically).
    reference : str, optional
        Key of the reference fit (default: the first fit given as draws).
        With approximations only and ``model=``, the reference is the model's
        posterior estimated by importance sampling (the page says "reference:
        the model (importance sampling)"; see :func:`~pymc_localmass.check`).
    var_names, coords, radii, kl_bound, log_evidence, ci_prob, model, group
        As in :func:`~pymc_localmass.compare.compare`.
    centers : optional
        Default: :func:`~pymc_localmass.check.default_centers` (each
        variable's mean, and the boundary of bounded variables).
    factor : float
        Ratio beyond which the check flags an approximation.
    prior : bool
        Compare posterior and prior Mass Indices when a prior group exists.
    title : str
    max_panels : int
        Regions shown in the figures (those with findings first).
    max_rows : int
        Rows of the comparison table.

    Returns
    -------
    str
        The path written.

    See Also
    --------
    pymc_localmass.compare : The comparison the page shows.
    pymc_localmass.check : The findings the page lists.
    pymc_localmass.plot_local_mass : The curves of one fit, interactively.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> rng = np.random.default_rng(0)
    >>> fits = {"A": {"x": rng.normal(size=(4, 500))}, "B": {"x": rng.normal(size=(4, 500))}}
    >>> out = report(fits, os.path.join(tempfile.mkdtemp(), "r.html"), centers=0.0)
    >>> open(out).read().startswith("<!DOCTYPE html>")
    True
    """
    from .check import check
    from .compare import compare

    if single_fit_type(fits) is not None:  # (one fit's container, itself a mapping of groups: the reference alone)
        fits = {"posterior": fits}
    if not isinstance(fits, Mapping) or not fits:
        raise InvalidTypeError("fits must be a non-empty mapping {name: fit}")
    for arg, val in (("max_panels", max_panels), ("max_rows", max_rows)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise InvalidInputError(f"{arg} must be an integer >= 1, got {val!r}")
    _check_path(path)
    objs = named_fits(fits)
    from .reference_free import REFERENCE_NAME, is_reference_free

    if is_reference_free(objs, reference, model):
        return _report_reference_free(objs, path, var_names=var_names, coords=coords, centers=centers, radii=radii,
                                      kl_bound=kl_bound, log_evidence=log_evidence, ci_prob=ci_prob, factor=factor,
                                      model=model, title=title, max_panels=max_panels, max_rows=max_rows,
                                      group=group, reference_name=REFERENCE_NAME)
    reference = _pick_reference(objs, reference)
    others = {k: v for k, v in objs.items() if k != reference}
    ref_is_draws = not _is_approximation(objs[reference])
    given = centers
    if centers is None or isinstance(centers, Mapping) and ref_is_draws:
        # default centres, and for variables a mapping does not name (check() does the same)
        defaults = _default_report_centers(objs[reference], others, ref_is_draws, var_names=var_names, model=model,
                                           group=group)
        centers = defaults if centers is None else {**{k: v for k, v in defaults.items() if k not in centers},
                                                    **centers}
    cmp = compare({reference: objs[reference], **others}, reference=reference, var_names=var_names, coords=coords,
                  centers=centers, radii=radii, kl_bound=kl_bound, log_evidence=log_evidence, ci_prob=ci_prob,
                  model=model, group=group)
    findings = []
    if ref_is_draws:
        shown = [str(v) for v in dict.fromkeys(cmp["variable"].values)]
        if isinstance(given, Mapping):  # the comparison may leave variables out (constant draws): so does check
            given = {k: v for k, v in given.items() if k in shown}
        # (the centres the user gave: check() adds the same defaults, and treats only these as requested)
        chk = check(objs[reference], approximations=others, prior=prior, factor=factor,
                    centers=given if not isinstance(given, str) else None,
                    var_names=shown, coords=coords,
                    ci_prob=ci_prob, model=model, group=group, reference_name=reference, warn=False, comparison=cmp)
        findings = chk.findings
    return _page(cmp, findings, path, reference=reference, reference_label=reference, ref_is_draws=ref_is_draws,
                 chk=chk if ref_is_draws else None, factor=factor, title=title, max_panels=max_panels,
                 max_rows=max_rows)


def _pick_reference(objs, reference):
    """The reference fit's key: ``reference``, else the first fit given as draws (else the first fit)."""
    names = list(objs)
    if reference is None:
        reference = next((k for k in names if not _is_approximation(objs[k])), names[0])
    if reference not in objs:
        raise UnknownNameError(f"reference {reference!r} is not one of the fits {names}")
    return reference


def _default_report_centers(ref, others, ref_is_draws, *, var_names, model, group):
    """Default centres: :func:`~pymc_localmass.check.default_centers` of reference draws, else each mean."""
    from .check import default_centers

    if not ref_is_draws:
        return "mean"
    approx = {k: v for k, v in others.items() if _is_approximation(v)}
    return default_centers(ref, var_names, approximations=approx, model=model, group=group)


def _report_reference_free(objs, path, *, var_names, coords, centers, radii, kl_bound, log_evidence, ci_prob, factor,
                           model, title, max_panels, max_rows, group, reference_name):
    """The report when no reference fit is given: the model's posterior, by importance sampling."""
    from .check import check

    chk = check(None, approximations=objs, factor=factor, centers=centers, var_names=var_names, coords=coords,
                radii=radii, ci_prob=ci_prob, kl_bound=kl_bound, log_evidence=log_evidence, model=model, group=group,
                warn=False)
    return _page(chk.comparison, chk.findings, path, reference=reference_name,
                 reference_label="the model (importance sampling)", ref_is_draws=False, chk=chk, factor=factor,
                 title=title, max_panels=max_panels, max_rows=max_rows)


def _model_tiers(cmp):
    """Each fit's tiers, in the order its regions use them (``"analytic / qmc"``: a fit's variables may differ)."""
    if "region_tier" not in cmp.coords:
        return [str(t) for t in cmp["tier"].values]
    out = []
    for m in cmp["model"].values:
        seen = dict.fromkeys(str(t) for t in cmp["region_tier"].sel(model=m).values)
        out.append(" / ".join(seen) if seen else str(cmp["tier"].sel(model=m).values))
    return out


def _page(cmp, findings, path, *, reference, reference_label, ref_is_draws, chk, factor, title, max_panels,
          max_rows):
    """Write the page: heading, findings, notes, the comparison table and the figures."""
    reference_free = reference_label != reference
    regions = _pick_regions(cmp, findings, max_panels)
    summ = _page_table(cmp, findings, reference)
    flagged_keys = {(f.model, f"{f.variable} @ {f.center}") for f in findings if f.model}
    figs = [("Mass curves", _png(_mass_figure(cmp, regions)))]
    flagged_regions = [r for r in regions if any(r == f"{f.variable} @ {f.center}" for f in findings)]
    ef = _elbo_figure(cmp, flagged_regions or regions[:3])
    if ef is not None:
        figs.append(("What the ELBO sees", _png(ef)))
    tiers = ", ".join(f"{m}: {t}" for m, t in zip(cmp["model"].values, _model_tiers(cmp)))
    created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    parts = [
        "<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<div class='meta'>reference: <b>{html.escape(reference_label)}</b> &middot; "
        f"fits and tiers: {html.escape(tiers)}"
        f" &middot; intervals at {float(cmp.attrs['ci_prob']):g} &middot; pymc-localmass {__version__} &middot; "
        f"{created}</div>",
        "<h2>Findings</h2>",
    ]
    parts += _findings_html(findings, reference_free=reference_free, ref_is_draws=ref_is_draws, factor=factor)
    parts += _notes_html(cmp, findings, chk, reference=reference, ref_is_draws=ref_is_draws)
    parts.append("<h2>Comparison at the smallest radius the reference resolves (a finding's row: at its "
                 "radius)</h2>")
    parts.append(_table_html(summ, flagged_keys, max_rows))
    parts.append("<p class='note'>p(A): the reference's mass of the ball A (radius r around the centre), q(A): the "
                 "fit's. Intervals of ratios and phi combine both masses' intervals (Bonferroni); exact masses "
                 "(analytic tier) have none. phi(x, y) = x log(x/y) - x + y. The reverse KL KL(q||p), which the "
                 "ELBO measures, must be at least phi(q(A), p(A)), less than p(A) however small q(A) is: a local "
                 "collapse can cost the ELBO almost nothing. The forward KL must register phi(p(A), q(A)), which "
                 "grows without bound as q(A) shrinks.</p>")
    left = [str(r) for r in cmp["region"].values if str(r) not in regions]
    for head, uri in figs:
        parts.append(f"<h2>{html.escape(head)}</h2><img alt='{html.escape(head)}' src='{uri}'>")
        if head == "Mass curves" and left:  # (regions with findings first, then numeric centres, then the rest)
            shown = ", ".join(left[:12]) + (f" and {len(left) - 12} more" if len(left) > 12 else "")
            parts.append(f"<p class='note'>{len(regions)} of {cmp.sizes['region']} regions drawn (max_panels="
                         f"{max_panels}: regions with findings first, then numeric centres); not drawn: "
                         f"{html.escape(shown)}. The table above has every region; report(..., max_panels=...) "
                         "draws more.</p>")
    parts.append("</body></html>")
    return _write_atomic(path, "\n".join(parts))


def _page_table(cmp, findings, reference):
    """The comparison table's rows: a finding's row read at its radius, regions with findings first."""
    from .compare import compare_summary

    summ = compare_summary(cmp)
    # a flagged row is read at its finding's radius, so the table quotes what the finding says
    for f in findings:
        if f.model and f.radius is not None and (f.model, f"{f.variable} @ {f.center}") in summ.index:
            at = compare_summary(cmp, radius=float(f.radius), fits=[f.model])
            key = (f.model, f"{f.variable} @ {f.center}")
            summ.loc[key] = at.loc[key]
    if cmp.sizes["model"] > 1:
        summ = summ.drop(index=reference, level="model")
    order = _pick_regions(cmp, findings, cmp.sizes["region"])
    mo = [str(m) for m in cmp["model"].values]
    return summ.reindex(sorted(summ.index, key=lambda key: (order.index(key[1]), mo.index(key[0]))))


def _findings_html(findings, *, reference_free, ref_is_draws, factor):
    """The findings section's blocks (a reading and what to do each), or the line saying there are none."""
    if findings:
        parts = []
        for f in findings:
            todo = (f"<div class='todo'><b>What to do:</b> {html.escape(f.advice)}</div>" if f.advice else "")
            parts.append(f"<div class='finding'><div>{html.escape(f.reading)}</div>{todo}</div>")
        return parts
    if reference_free:
        return ["<div class='ok'>No local-mass findings: wherever the model's posterior mass could be "
                "estimated reliably from the approximations (importance sampling, k-hat at most 0.5), every "
                f"fit's mass agrees with it within a factor {factor:g}.</div>"]
    if ref_is_draws:
        return ["<div class='ok'>No local-mass findings: every fit's mass agrees with the reference within "
                f"a factor {factor:g} wherever the reference resolves it, and no atom, index change or "
                "unresolved requested centre was found.</div>"]
    return ["<div class='ok'>The reference is an approximation: no draws-based check was run.</div>"]


def _notes_html(cmp, findings, chk, *, reference, ref_is_draws):
    """Notes under the findings: the reference draws' statuses other than ok, and what was not compared."""
    parts = []
    # what the reference's own draws support at each region (docs/schema.md, "Statuses")
    if ref_is_draws and "status" in chk.table.columns:
        said = {f"{f.variable} @ {f.center}" for f in findings}
        marks = [f"{html.escape(str(region))}: <b>{html.escape(str(row['status']))}</b>"
                 for (mname, region), row in chk.table.iterrows()
                 if mname == reference and isinstance(row.get("status"), str) and row["status"] != "ok"
                 and str(region) not in said]
        if marks:
            parts.append(f"<p class='note'>What the {html.escape(reference)} draws support (a status other than "
                         "ok; plm.summary gives each row's note and what to do): " + "; ".join(marks) + ".</p>")
    left_out = [line for line in str(cmp.attrs.get("left_out", "")).splitlines() if line]
    if left_out:
        parts.append("<p class='note'>Not compared (a fit cannot give them): "
                     + "; ".join(html.escape(x) for x in left_out) + ".</p>")
    for text in (chk.notes if chk is not None else ()):
        parts.append(f"<p class='note'>Note: {html.escape(text)}.</p>")
    return parts
