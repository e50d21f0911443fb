"""``check()``: the post-fit local-mass check of a PyMC workflow.

One call after sampling (and fitting approximations) looks at the regions
where global diagnostics are blind: the mass near each variable's mean and,
for variables with a bounded support, near the boundary. It emits one
:class:`LocalMassWarning` line per finding and stays silent when all is well:

- ``approximation``: an approximation's mass of a ball differs from the
  reference's by more than ``factor`` (default 10) and the interval of the
  ratio excludes that factor (the smallest such radius the reference
  resolves is reported, with the ELBO-blindness bound ``phi(q(A), p(A))``);
- ``atom``: the draws hold an atom at a centre (exact ties; interval of its
  weight excludes 0);
- ``prior_index``: the posterior's Mass Index ``a`` at a centre differs from
  the prior's (disjoint intervals and a shift of at least
  ``min_index_shift``), i.e. the likelihood changes the local dimension
  (for a centre more than 4 posterior sd from the posterior mean, where the
  draws may only see a smooth tail's slope: with ``model=`` the model tier's
  index below the draws' radii decides, otherwise the finding says so and
  points to the model tier);
- ``unresolved``: a centre the user asked for that the draws cannot
  resolve (no radius holds ``min_ess`` effective draws).
"""

from __future__ import annotations

import functools
import numbers
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from ._stack import user_stacklevel
from ._api import CentersLike, Coords, DataLike, RadiiLike, VarNames, public
from ._compat import default_ci_prob
from .errors import InvalidInputError, InvalidTypeError
from .estimators import changed_model_data, check_model_shapes, describe_fit
from .results import (SAMPLER_CHAINS_ADVICE, SLOW_CHAINS_ADVICE, STATUS_ADVICE, center_text, joint_dim,
                      location_text, sampler_advice, slow_chains, status_note, status_word, stored_centers)

__all__ = ["LocalMassWarning", "Finding", "CheckResult", "check", "default_centers"]


class LocalMassWarning(UserWarning):
    """A local-mass problem found by :func:`check` (one concise line each)."""


@dataclass
class Finding:
    """One problem found by :func:`check`.

    Attributes
    ----------
    kind : str
        ``"approximation"``, ``"atom"``, ``"prior_index"``, ``"unresolved"`` (the draws do not reach
        the centre), ``"sampler"`` (divergences near the centre, or chains that disagree there) or
        ``"log-ambiguous"`` (with ``model=``: the model's index falls outside the draws' interval),
        ``"model_index"`` (with ``model=``: an "ok" row at a numeric centre, such as a support's end,
        whose interval the model's own index below the draws' radii falls outside) or
        ``"unreliable"`` (no reference fit: neither importance-sampling route can estimate the
        posterior's mass there).
    variable : str
        Variable element label (``"theta[Choate]"``).
    center : str
        Centre label; ``center_value`` its value.
    center_value : float
    radius : float or None
        Radius the figures refer to.
    model : str or None
        The approximation concerned (``kind="approximation"``).
    message : str
        The warning line.
    reading : str
        A plain-language reading for reports.
    figures : dict
        The numbers behind the message.
    advice : str
        What to do next (one sentence; also in the warning after "What to do:").
    """

    kind: str
    variable: str
    center: str
    center_value: float
    radius: float | None
    model: str | None
    message: str
    reading: str
    figures: dict = field(default_factory=dict)
    advice: str = ""

    @property
    def text(self):
        """The finding and what to do, as the warning says it."""
        return f"{self.message} What to do: {self.advice}" if self.advice else self.message


@dataclass
class CheckResult:
    """What :func:`check` found.

    Attributes
    ----------
    findings : list of Finding
        Empty when all is well.
    table : pandas.DataFrame
        One row per fit and region (variable element x centre) at the radius
        used for the verdict, with the figures and a ``flags`` column.
    comparison : xarray.Dataset or None
        The :func:`~pymc_localmass.compare.compare` dataset when
        approximations were given.
    left_out : dict of str to str
        Variables of the reference that were not compared with the
        approximations, and why (a fit cannot give them).
    notes : list of str
        What the check did not cover or set aside, in words (for example the
        "ok" rows beyond ``max_model_checks`` that the model's density did
        not cross-check, or "sampler" rows whose draws it confirmed).
    """

    findings: list
    table: pd.DataFrame
    comparison: object = None
    left_out: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def ok(self):
        """True when nothing was found."""
        return not self.findings

    def __repr__(self):
        tail = [f"  (not compared: {n}: {why})" for n, why in self.left_out.items()]
        tail += [f"  (note: {text})" for text in self.notes]
        if self.ok:
            return "\n".join([f"CheckResult(ok: no local-mass findings over {self.table.shape[0]} rows)"] + tail)
        lines = [f"CheckResult({len(self.findings)} finding(s)):"]
        for f in self.findings:
            lines.append(f"  - {f.message}")
            if f.advice:
                lines.append(f"    What to do: {f.advice}")
        return "\n".join(lines + tail)


def _fmt(x):
    if x is None or not np.isfinite(x):
        return "nan" if x is None or np.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e-3 and ax < 1e4:
        return f"{x:.3g}"
    return f"{x:.2g}"


def _fig(x):
    """A figure in a sentence: two significant digits (``4.8e-11``, ``0.13``, ``0.07``, ``12``)."""
    if x is None or not np.isfinite(x):
        return _fmt(x)
    if x == 0:
        return "0"
    ax = abs(x)
    if 1e-3 <= ax < 1e4:
        return f"{x:.2g}" if ax < 100 else f"{x:.0f}"
    return f"{x:.2g}"


def render_finding(kind, variable, center_value, figures, *, model=None, reference="posterior", factor=10.0,
                   center_label=None):
    """The sentence, the reading and the "what to do" line of one finding, from its figures.

    One function renders every finding, so the terminal (warnings,
    :class:`CheckResult`'s repr) and the report quote the same figures at
    the same radius.

    Parameters
    ----------
    kind : {"approximation", "atom", "prior_index", "unresolved", "unreliable"}
    variable : str
        Element label (``"tau"``, ``"theta[Choate]"``).
    center_value : float
    figures : dict
        ``approximation``: radius, mass, ref_mass(_lower/_upper), ratio(_lower/_upper),
        phi_reverse and optionally kl_bound, ref_compatible_lower/_upper;
        ``atom``: atom(_lower/_upper); ``unresolved``: max_radius, min_ess;
        ``prior_index``: a, a_lower, a_upper, prior_a(_lower/_upper), and
        optionally z (sd from the posterior mean), radius, model_a(_lower/_upper);
        ``unreliable`` (no reference fit): radius, khat_is, n_inside, khat_conditional,
        ess_conditional, proposals and optionally estimate (never reported as a mass).
    model : str, optional
        The approximation's name.
    reference : str
        The reference's name ("posterior" reads "the posterior").
    factor : float
    center_label : str, optional

    Returns
    -------
    (message, reading, advice) : tuple of str

    Examples
    --------
    >>> m, r, a = render_finding("approximation", "sigma_a", 0.0, dict(radius=0.07, mass=4.8e-11, ref_mass=0.13,
    ...     ref_mass_lower=0.07, ref_mass_upper=0.2, ratio=3.7e-10, ratio_lower=2e-10, ratio_upper=7e-10,
    ...     phi_reverse=0.13), model="ADVI", reference="NUTS")
    >>> m
    'ADVI puts 4.8e-11 of its mass within 0.07 of sigma_a = 0; NUTS puts 0.13 [0.07, 0.2] there (2.7e+09 times more). A global fit measure such as the ELBO can miss this: the mismatch costs it as little as 0.13 nats.'
    """  # noqa: E501 (a doctest's output line)
    who = "the posterior" if reference == "posterior" else reference
    # (a centre in 3 significant digits, as the status findings quote it: "mu = 4.53 (its mean)")
    at = f"{variable} = {location_text(center_value)}" if np.isfinite(center_value) else f"{variable} at {center_label}"
    if center_label in ("mean", "median", "mode") and np.isfinite(center_value):
        # (an approximation's finding names two fits: "its mean" read as the approximation's, whose
        # mean is elsewhere; the centre is the reference's)
        at += f" ({who}'s {center_label})" if kind == "approximation" else f" (its {center_label})"
    if kind not in _RENDERERS:
        raise InvalidInputError(f"unknown finding kind {kind!r}")
    return _RENDERERS[kind](figures, variable=variable, center_value=center_value, center_label=center_label,
                            at=at, who=who, model=model)


def _render_approximation(f, *, variable, center_value, at, who, model, **_):
    """Render an ``approximation`` finding: the fit's mass and the reference's, and the ELBO bound."""
    q, p, ratio = f["mass"], f["ref_mass"], f["ratio"]
    ru = f.get("ratio_upper", np.nan)
    if ratio < 1:
        if ratio > 0:
            times = f"{_fig(1 / ratio)} times more"
        elif np.isfinite(ru) and ru > 0:  # none of the fit's points there: a bound, not a zero
            times = f"at least {_fig(1 / ru)} times more"
        else:
            times = "where it has none"
    else:
        times = f"{_fig(ratio)} times less"
    # (a mass of 0 that is not exact, none of the fit's points inside: the fit's mass is below
    # what its points resolve, not zero)
    qu = f.get("mass_upper", np.nan)
    puts = f"less than {_fig(qu)}" if q == 0 and np.isfinite(qu) and qu > 0 else _fig(q)
    # the radius with 3 significant digits, as the report's table and the demo print it
    msg = (f"{model} puts {puts} of its mass within {_fmt(f['radius'])} of {at}; {who} puts "
           f"{_fig(p)} [{_fig(f['ref_mass_lower'])}, {_fig(f['ref_mass_upper'])}] there ({times}). "
           "A global fit measure such as the ELBO can miss this: the mismatch costs it as little as "
           f"{_fig(f['phi_reverse'])} nats.")
    reading = msg
    K = f.get("kl_bound", np.nan)
    if K is not None and np.isfinite(K) and "ref_compatible_lower" in f:
        reading += (f" A global KL of {_fig(K)} nats allows any reference mass in "
                    f"[{_fig(f['ref_compatible_lower'])}, {_fig(f['ref_compatible_upper'])}] here.")
    if f.get("reference_doubt") == "unresolved":
        # the reference's draws resolve the finding's radius (it is read only where they do) but not
        # the smaller balls around the centre: "rely on the posterior draws" holds down to that radius
        below = ("the model's density could not read it either (its unresolved finding): draw more"
                 if f.get("model_tried") else "read the model's density (plm.check(..., model=model)) or draw more")
        advice = (f"{who}'s draws resolve this radius but not the smaller balls around {at} (its unresolved "
                  f"finding): rely on them, not {model}, at radii of {_fmt(f['radius'])} and above; below, "
                  f"{below}, then compare {model} again.")
    elif f.get("reference_doubt"):
        # the reference's own draws are in doubt here (a sampler finding at the same region):
        # "rely on the posterior draws" would send the user to them
        advice = (f"{who}'s own draws are not reliable near {at} either (its {f['reference_doubt']} finding): "
                  "neither fit can be trusted there yet; fix the sampler first (for a centred hierarchy, a "
                  f"non-centred parameterisation), then compare {model} again with plm.check.")
    elif f.get("reference_free"):
        advice = (f"{model} misrepresents the posterior near {at} (estimated from the model by importance "
                  f"sampling); confirm with a reference fit (pm.sample) there, or try {_richer(f.get('fit_kind'))} "
                  "or a non-centred parameterisation, and run plm.check again.")
    elif ratio < 1:
        advice = (f"for {variable} near {location_text(center_value)} rely on {who} draws, not {model}; if you need an "
                  f"approximation there, try {_richer(f.get('fit_kind'))} or, for a centred hierarchy, a "
                  "non-centred parameterisation, and run plm.check again.")
    else:
        advice = (f"{model} puts too much mass near {at}: rely on {who} draws there, or try "
                  f"{_richer(f.get('fit_kind'))} and run plm.check again.")
    return msg, reading, advice


#: families richer than an approximation's, by its kind (the fit's family is not suggested to itself)
RICHER = {"meanfield": "full-rank ADVI or Pathfinder", "fullrank": "multi-path Pathfinder or a normalizing flow",
          "laplace": "full-rank ADVI or Pathfinder", "dadvi": "full-rank ADVI or Pathfinder",
          "pathfinder": "more Pathfinder paths (num_paths) or a normalizing flow"}


def _richer(kind):
    """What to try instead of an approximation of family ``kind`` (None: any family)."""
    return RICHER.get(kind, "a richer family (full-rank ADVI, Pathfinder, a normalizing flow)")


def _render_atom(f, *, variable, center_value, **_):
    """Render an ``atom`` finding: the weight of the draws exactly at the centre."""
    msg = (f"{variable} has a point mass at {location_text(center_value)}: {_fig(f['atom'])} "
           f"[{_fig(f['atom_lower'])}, {_fig(f['atom_upper'])}] of the draws are exactly there.")
    reading = msg + " Continuous approximations (ADVI, Laplace) cannot represent it."
    advice = (f"report the atom's weight for {variable} separately (its Mass Index is (0, 0)); do not judge "
              "this region with a continuous approximation.")
    return msg, reading, advice


def _render_unresolved(f, *, variable, center_value, **_):
    """Render an ``unresolved`` finding: no ball holds enough effective draws."""
    msg = (f"The draws cannot resolve {variable} near {location_text(center_value)}: no ball up to radius "
           f"{_fig(f['max_radius'])} holds {f.get('min_ess', 10):g} effective draws.")
    reading = f"The draws are too few near {variable} = {location_text(center_value)} to say how much mass is there."
    advice = ("draw more (more chains or draws), or pass model= and use method='model', which resolves far "
              "smaller radii from the model's density.")
    return msg, reading, advice


def _render_unreliable(f, *, variable, center_value, at, **_):
    """Render an ``unreliable`` finding: without a reference fit, no importance-sampling route is trusted."""
    k_is, n_in, k_c, ess_c = f["khat_is"], f["n_inside"], f["khat_conditional"], f["ess_conditional"]
    msg = (f"Without a reference fit, the posterior's mass within {_fmt(f['radius'])} of {at} cannot be "
           f"estimated from {f['proposals']} and the model: importance sampling has a local k-hat of "
           f"{_fig(k_is)} (trusted up to 0.5) with {n_in:.0f} draws in the ball, the conditional "
           f"(Rao-Blackwellised) route a k-hat of {_fig(k_c)} with an ESS of {_fig(ess_c)} (needs 100)")
    est = f.get("estimate", np.nan)
    if np.isfinite(est) and est > 0:
        msg += (f"; the best attempt, {_fig(est)}, is not to be trusted (draws that miss part of the "
                "posterior bias it, usually downwards)")
    msg += "."
    if np.isfinite(f.get("checked_from", np.nan)):
        reading = msg + (f" The comparison reads only from {_fmt(f['checked_from'])} outwards, where a route is "
                         "trusted: nearer the centre nothing is checked.")
    else:
        reading = msg + " No number is reported for this region."
    advice = (f"run a reference fit (pm.sample) and call plm.check(idata, approximations=...) to judge "
              f"{variable} near {location_text(center_value)}.")
    return msg, reading, advice


def _render_prior_index(f, *, variable, center_value, center_label, at, **_):
    """Render a ``prior_index`` finding: the posterior's index differs from the prior's (or a far tail's slope)."""
    a, alo, ahi = f["a"], f["a_lower"], f["a_upper"]
    pa, plo, phi_ = f["prior_a"], f["prior_a_lower"], f["prior_a_upper"]
    msg = (f"{variable} near {center_text(center_label or f'{center_value:g}', center_value)}: posterior "
           f"Mass Index a = {_fmt(a)} [{_fmt(alo)}, {_fmt(ahi)}] differs from the prior's a = {_fmt(pa)} "
           f"[{_fmt(plo)}, {_fmt(phi_)}]")
    reading = (f"Near {at} the data change how mass scales with the radius (local dimension "
               f"{_fmt(pa)} in the prior, {_fmt(a)} in the posterior): the likelihood vanishes or blows up "
               "there.")
    advice = (f"expected if the likelihood vanishes or blows up at {at} (e.g. data that rule that value "
              "out); if not, look for a modelling error there.")
    if f.get("by_model"):  # the draws' interval holds the prior's index; the model's narrower one does not
        msg = (f"{variable} near {center_text(center_label or f'{center_value:g}', center_value)}: posterior "
               f"Mass Index a = {_fmt(f['model_a'])} [{_fmt(f['model_a_lower'])}, {_fmt(f['model_a_upper'])}] "
               f"by the model's own density (the draws: {_fmt(a)} [{_fmt(alo)}, {_fmt(ahi)}]) differs from "
               f"the prior's a = {_fmt(pa)} [{_fmt(plo)}, {_fmt(phi_)}]")
        reading = reading.replace(f"{_fmt(a)} in the posterior", f"{_fmt(f['model_a'])} in the posterior")
    elif "model_a" in f:
        msg += (f"; confirmed by the model tier below the draws' radii: a = {_fmt(f['model_a'])} "
                f"[{_fmt(f['model_a_lower'])}, {_fmt(f['model_a_upper'])}]")
    elif f.get("z", 0) > 4:
        z, r = f["z"], f.get("radius", np.nan)
        msg += (f"; the centre lies {z:.1f} posterior sd from the posterior mean and the draws "
                f"resolve it only from r = {_fmt(r)} on, so this may be the slope of a smooth tail: confirm "
                "with the model tier (method='model')")
        reading = (f"Near {at}, {z:.1f} posterior sd from the posterior mean, the posterior's mass grows "
                   + ("faster than any power of r" if np.isposinf(a) else f"like r^{_fmt(a)}")
                   + f" over the radii the draws resolve (from {_fmt(r)}), the prior's like r^{_fmt(pa)}: "
                   "either the likelihood vanishes there, or the centre lies in a smooth tail that the draws "
                   "cannot see into; the model tier tells which.")
        advice = ("pass model= to plm.check (or use plm.local_mass(..., method='model')) to read the index "
                  "below the draws' radii; it tells a real change from a smooth tail.")
        if f.get("model_tried"):
            msg += "; the model tier (model= given) could not settle it there"
            advice = ("treat it as unsettled: neither the draws nor the model tier reach below r = "
                      f"{_fmt(r)} here (the density there is too small to integrate); if it matters, "
                      "compare plm.local_mass(..., method='model') at larger radii with the prior's.")
    return msg + ".", reading, advice


#: the renderer of each finding kind (:func:`render_finding` dispatches on it)
_RENDERERS = {"approximation": _render_approximation, "atom": _render_atom, "unresolved": _render_unresolved,
              "unreliable": _render_unreliable, "prior_index": _render_prior_index}




def default_centers(data, var_names=None, *, approximations=None, model=None, group="posterior", near=1.0):
    """Default centres: every variable's mean and, for bounded-support variables, the support's finite ends.

    A variable is bounded when an approximation (or ``model``) transforms it
    to a half-line or interval, or, where neither says (a Deterministic, a
    discrete variable, draws alone), when all its draws have one sign and
    come within ``near`` posterior sds of 0. (A sampler that does not reach
    a scale's 0, the centred funnel's, stops a fraction of an sd short of it:
    0.15 to 0.5 sd in 12 NUTS runs of a centred hierarchy; with a quarter sd
    as the rule, 11 of them had no centre at 0 and no finding.)

    Returns
    -------
    dict
        ``{var: {"mean": "mean", "<boundary>": value}}``, accepted by
        ``centers=`` everywhere.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> default_centers({"tau": np.abs(rng.normal(size=(2, 100))), "mu": rng.normal(5, 1, size=(2, 100))})
    {'tau': {'mean': 'mean', '0': 0.0}, 'mu': {'mean': 'mean'}}
    """
    facts = describe_fit(data, group=group, var_names=var_names)
    ds, names = facts.draws, list(facts.var_names)
    bounds = {}  # variable -> finite support ends, in order of discovery

    def add(name, value):
        if value is not None and np.size(value) and np.unique(value).size == 1:
            v = float(np.unique(value)[0])
            if np.isfinite(v) and v not in bounds.setdefault(name, []):
                bounds[name].append(v)

    # approximations given as draws (another sampler's posterior) carry no transforms
    fits = [f for f in (describe_fit(a, model=model, draws=False, transforms=True)
                        for a in (approximations or {}).values()) if f.is_approximation]
    if model is not None:
        fits.insert(0, describe_fit(model, draws=False, transforms=True))
    # variables a fit says are unbounded get no one-sign guess (a Normal coefficient whose draws
    # happen to be positive got a centre at 0, and the reference-free check a finding there)
    unbounded = set()
    for fit in fits:  # the model's transforms first, then each approximation's
        for sup in fit.supports:
            add(sup.name, sup.lower)
            add(sup.name, sup.upper)
        unbounded.update(fit.unbounded)
    out = {}
    for n in names:
        spec = {"mean": "mean"}
        if n not in bounds and n not in unbounded:
            da = ds[n]
            lo, hi = float(da.min()), float(da.max())
            sd = float(da.std())
            if sd > 0 and ((lo >= 0 and lo < near * sd) or (hi <= 0 and -hi < near * sd)):
                bounds[n] = [0.0]
        for b in bounds.get(n, []):
            spec[f"{b:g}"] = float(b)
        out[n] = spec
    return out


def _model_for_the_tier(model, data):
    """``model``, or None (with a warning) when its data changed since ``data`` was fitted.

    The model tier integrates the model's density with its current data: after ``pm.set_data``
    that is another posterior than the draws' (or PyTensor fails on the new shapes), so check()
    does not use it there. The model's transforms (for default centres) do not depend on data.
    """
    changed = changed_model_data(model, data)
    if not changed:
        return model
    # (a UserWarning, not a LocalMassWarning: it is about the call, not a finding of the fit; those
    # who turn findings into errors should not trip on it)
    warnings.warn(
        f"model=: the model's data {changed} differ from those the draws were fitted with (their constant_data; "
        "pm.set_data since?), so its density is not the draws' posterior: check() does not use the model tier "
        "(restore the fitting data to use it)", UserWarning, stacklevel=user_stacklevel())
    return None


def _merge_centers(centers, data, names, *, approximations, model, group):
    """The centres check() evaluates, and the variables whose centres the user requested.

    ``centers=None``: :func:`default_centers` everywhere, none requested. A mapping names
    the centres of some variables: those are requested, and the others keep their
    default centres (before, they fell back to the mean alone and lost the boundary
    centre, e.g. a scale's 0, where the findings are). Anything else (one centre for every
    variable) is requested everywhere.
    """
    if centers is None:
        return default_centers(data, names, approximations=approximations, model=model, group=group), frozenset()
    if not isinstance(centers, Mapping):
        return centers, frozenset(names)
    rest = [n for n in names if n not in centers]
    merged = default_centers(data, rest, approximations=approximations, model=model, group=group) if rest else {}
    merged.update(centers)
    return merged, frozenset(n for n in names if n in centers)


def _reference_results(data, names, centers, *, coords, radii, ci_prob, group, min_ess):
    from .estimators import _compute

    return _compute(data, var_names=names, coords=coords, centers=centers, radii=radii, ci_prob=ci_prob,
                    group=group, min_ess=min_ess, method="samples")


def _regions(curves, index, names):
    """[(var, element label, sel, centre label)] for the centres each variable was analysed at."""
    from .results import check_distinct_labels, element_labels

    out = []
    for n in names:
        ia = index[n]
        for sel, lab in element_labels(ia):
            sub = ia.sel(sel) if sel else ia
            for c in sub["center"].values:
                if np.all(np.isnan(sub.sel(center=c).values)):
                    continue
                out.append((n, lab, sel, str(c)))
    check_distinct_labels([(n, lab) for n, lab, _, _ in out])
    return out


def _model_reading_below(run, n, sel, cv, irow, r):
    """:func:`_model_tier_index` below the draws' smallest resolved radius (their largest radius if none)."""
    r_top = irow.get("r_resolved", np.nan)
    r_top = r_top if np.isfinite(r_top) and r_top > 0 else float(r[-1])
    return _model_tier_index(run.data, run.model, n, sel, cv, r_top, run.group, run.ci)


#: key of a model-tier reading holding its mass at the largest radius ``(radius, mass, lower, upper)``
_MASS_TOP = "_mass_top"


def _columns(mt):
    """A model-tier reading's figures for the table (``model_a``, ...), without its private keys."""
    return {f"model_{k}": v for k, v in mt.items() if not k.startswith("_")}


def _overlap(mt, irow):
    """Whether the model tier's interval of ``a`` and the draws' overlap."""
    return not (mt["a_upper"] < irow["a_lower"] or irow["a_upper"] < mt["a_lower"])


def _on_lattice(run, n):
    """Whether the draws of ``n`` lie on a lattice (a discrete variable: the curves' ``lattice`` attribute)."""
    return bool(np.any(run.curves[n].attrs.get("lattice", 0)))


def _is_free(run, n):
    """Whether ``n`` is a free variable of ``run.model`` (False without a model)."""
    return run.model is not None and n in {rv.name for rv in getattr(run.model, "free_RVs", [])}


def _model_tier_index(idata, model, var, sel, center, r_top, group, ci):
    """``a`` with its interval at ``center`` from the model's density (tier "model").

    On radii from ``r_top`` (the draws' smallest resolved radius) down six decades; where that
    fit is unsound (below 0, or outside its own interval: a tail's steep rise just below
    ``r_top`` mixed with the density further down, as a Student-t's nu at 0 read -0.32), once
    more from a tenth of ``r_top`` down. None when the model tier cannot say (discrete
    variable, unresolved radii, precision).
    """
    why = None
    for top in (r_top, 0.1 * r_top):
        out, why, refused = _model_tier_reading(idata, model, var, sel, center,
                                                np.geomspace(top * 1e-6, top, 13), group, ci)
        if out is not None:
            return out
        if refused:  # (a simplex or zero-sum element: no radius helps)
            return {"failed": why, "refused": True}
    return {"failed": why}


#: draws the model tier integrates over per reading in check() (its own default is 400): a reading
#: decides agreement with the draws' interval, and its Monte Carlo error over the other variables
#: widens its interval honestly; the model's density costs as much per draw as the data are long
#: (a zero-inflated Poisson regression of 200 rows: 12 s per centre at 400 draws)
CHECK_MODEL_DRAWS = 200


def _model_tier_reading(idata, model, var, sel, center, radii, group, ci):
    """The model tier's sound ``a`` (with interval) on ``radii``, or None and why not (words); and whether it refused.

    Returns ``(reading, why, refused)``: ``refused`` where the tier raised (it cannot take the
    variable or element at any radius).
    """
    from .tiers.model import HeavyTailWarning, model_local_mass

    coords = {d: [v] for d, v in sel.items()} if sel else None
    try:
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("always")
            curves, idx = model_local_mass(idata, model, var_names=[var], coords=coords, centers={var: center},
                                      radii=radii, group=group, ci_prob=ci, n_draws=CHECK_MODEL_DRAWS)
    except (ValueError, KeyError, TypeError, NotImplementedError) as err:
        # (the whole first line: cut at 200 characters it lost its own advice mid-word)
        return None, f"it raised {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}", True
    da = idx[var].isel(center=0)
    cu = curves[var].isel(center=0)
    if sel:
        da = da.isel({d: 0 for d in sel})
        cu = cu.isel({d: 0 for d in sel})
    out = {s: float(da.sel(index_stat=s)) for s in ("a", "a_lower", "a_upper")}
    # (the model's mass at the largest radius, the draws' smallest resolved one: _MASS_TOP, not a column)
    top = cu.isel(radius=int(np.nanargmax(cu.sel(local_stat="radius").values)))
    out[_MASS_TOP] = tuple(float(top.sel(local_stat=k)) for k in ("radius", "mass", "mass_lower", "mass_upper"))
    span = f"on radii {_fmt(radii[0])} to {_fmt(radii[-1])}"
    # (the tier's per-draw masses heavy-tailed at some radii: a few draws carry the mean there, and the
    # slope read just above them is theirs; a switch-point model's rate at 0, whose index given any
    # sampled switch point is 33 to 50, read 22.5 [18, 27] from such radii)
    if any(issubclass(w.category, HeavyTailWarning) for w in said):
        return None, f"its per-draw masses {span} are heavy-tailed (a few draws carry them)", False
    # (a = inf with its lower end inf is a reading: no mass near the centre at any power, as a noise
    # sd's 0 under n observations, exp(-SS / 2 sigma^2))
    if np.isnan(out["a"]) or np.isnan(out["a_lower"]) or (np.isfinite(out["a"]) and not np.isfinite(out["a_lower"])):
        return None, f"its masses {span} give no index (unresolved)", False
    # (a fit outside its own interval, or below 0, is no reading)
    if not (out["a"] >= 0 and out["a_lower"] <= out["a"] <= out["a_upper"]):
        return None, (f"its fit {span} is unsound (a = {_fmt(out['a'])} outside [{_fmt(out['a_lower'])}, "
                      f"{_fmt(out['a_upper'])}] or below 0)"), False
    return out, None, False


def _approximation_findings(cmp, summ, rows, findings, reference_name, factor, reference_free=False,
                            doubtful=None, kinds=None, model_tried=False):
    """Rows and ``approximation`` findings of a comparison.

    A finding: a ratio beyond ``factor`` whose interval excludes it, at the smallest such radius the
    reference resolves. ``doubtful``: (element label, centre label) -> the kind of the reference's
    own finding there ("sampler", "unresolved"); such a finding's advice does not send the user
    to the reference's draws. ``kinds``: fit name -> its family (the advice names richer ones).
    ``model_tried``: the check was given the model (its tier read the reference's rows already).
    """

    def row(model_name, region):
        return rows.setdefault((model_name, region), {})

    res_all = cmp["resolved"].values > 0.5
    for mname in [str(x) for x in cmp["model"].values if str(x) != cmp.attrs["reference"]]:
        dm = cmp.sel(model=mname)
        for g, region in enumerate(cmp["region"].values):
            region = str(region)
            lo = dm["ratio_lower"].values[g]
            hi = dm["ratio_upper"].values[g]
            flag = res_all[g] & ((hi < 1.0 / factor) | (lo > factor))
            base = summ.loc[(mname, region)].to_dict()
            rw = row(mname, region)
            rw.update({"variable": str(cmp["element"].values[g]), "center": str(cmp["center"].values[g]),
                       "center_value": float(cmp["center_value"].values[g]), **base})
            rw["flags"] = ""
            if not flag.any():
                continue
            j = int(np.argmax(flag))
            r = float(cmp["radius_value"].values[g, j])
            q = float(dm["mass"].values[g, j])
            p = float(cmp["ref_mass"].values[g, j])
            pl = float(cmp["ref_mass_lower"].values[g, j])
            pu = float(cmp["ref_mass_upper"].values[g, j])
            ratio = float(dm["ratio"].values[g, j])
            rl, ru = float(lo[j]), float(hi[j])
            phr = float(dm["phi_reverse"].values[g, j])
            lab = str(cmp["element"].values[g])
            c = str(cmp["center"].values[g])
            cv = float(cmp["center_value"].values[g])
            K = float(dm["kl_bound"].values)
            figs = {"radius": r, "mass": q, "mass_upper": float(dm["mass_upper"].values[g, j]),
                    "ref_mass": p, "ref_mass_lower": pl, "ref_mass_upper": pu,
                    "ratio": ratio, "ratio_lower": rl, "ratio_upper": ru, "phi_reverse": phr,
                    "phi_forward": float(dm["phi_forward"].values[g, j]), "kl_bound": K}
            if np.isfinite(K):
                figs.update(ref_compatible_lower=float(dm["ref_compatible_lower"].values[g, j]),
                            ref_compatible_upper=float(dm["ref_compatible_upper"].values[g, j]))
            if reference_free:
                figs["reference_free"] = True
            if doubtful and (lab, c) in doubtful:
                figs["reference_doubt"] = doubtful[(lab, c)]
                if model_tried:
                    figs["model_tried"] = True
            if kinds and kinds.get(mname):
                figs["fit_kind"] = kinds[mname]
            msg, reading, advice = render_finding("approximation", lab, cv, figs, model=mname,
                                                  reference=reference_name, factor=factor, center_label=c)
            findings.append(Finding("approximation", lab, c, cv, r, mname, msg, reading, figs, advice))
            # the row is read at the finding's radius: one radius for one finding everywhere
            rw.update({"radius": r, "mass": q, "ref_mass": p, "ref_mass_lower": pl, "ref_mass_upper": pu,
                       "ratio": ratio, "ratio_lower": rl, "ratio_upper": ru, "phi_reverse": phr})
            ref_row = rows.get((reference_name, region))
            if ref_row is not None:
                ref_row.update({"radius": r, "mass": p, "mass_lower": pl, "mass_upper": pu})
            rw["flags"] = "approximation"


def _check_reference_free(approximations, model, *, factor, centers, var_names, coords, radii, ci, kl_bound,
                          log_evidence, group, warn, comparison):
    """``check()`` without a reference fit: the model's posterior estimated from the approximations."""
    from .compare import compare, compare_summary
    from .reference_free import REFERENCE_NAME

    _check_reference_free_inputs(approximations, model)
    if centers is None or isinstance(centers, Mapping):
        first = describe_fit(next(iter(approximations.values())), model=model, group=group, n_draws=250)
        names = var_names if var_names is not None else list(first.var_names)
        centers, _ = _merge_centers(centers, first.draws, names, approximations=approximations, model=model,
                                    group="posterior")
    cmp = comparison
    if cmp is None:
        cmp = compare(dict(approximations), reference=REFERENCE_NAME, var_names=var_names, coords=coords,
                      centers=centers, radii=radii, ci_prob=ci, kl_bound=kl_bound, log_evidence=log_evidence,
                      model=model, group=group)
    who = "the posterior (estimated from the model)"
    findings, rows = [], {}
    summ = compare_summary(cmp)
    _approximation_findings(cmp, summ, rows, findings, who, factor, reference_free=True,
                            kinds=_fit_kinds(approximations))
    _model_reference_rows(cmp, summ, rows, findings, REFERENCE_NAME)
    return _result(findings, rows, cmp, _left_out(cmp), warn=warn)


def _check_reference_free_inputs(approximations, model):
    """Raise when a check without a reference fit lacks its approximations or model, or is given draws."""
    from .errors import InvalidInputError, InvalidTypeError

    if approximations is None or not isinstance(approximations, Mapping) or not approximations:
        raise InvalidInputError("check() without a reference fit (idata=None) needs approximations={name: fit} "
                                "and model=<pymc.Model>")
    if model is None or not hasattr(model, "free_RVs"):
        raise InvalidTypeError("check() without a reference fit (idata=None) needs model=<pymc.Model> to "
                               f"estimate the posterior from the approximations; got model={type(model).__name__}")
    bad = [k for k, v in approximations.items() if not describe_fit(v, draws=False).is_approximation]
    if bad:
        raise InvalidInputError(f"approximations {bad} are posterior draws: pass the draws as idata= (the "
                                "reference) instead of checking without one")


#: a check without a reference fit says which smallest radii it could not check when at least
#: this many lie below the first with a trusted importance-sampling route
MIN_UNCHECKED = 3


def _model_reference_rows(cmp, summ, rows, findings, reference_name):
    """The model reference's rows at the comparison's radius, with their reliability figures.

    A region where no radius has a reliable estimate is an ``unreliable`` finding (said at the
    largest radius, the most draws; no number).
    """
    route = cmp["ref_route"].values
    for g, region in enumerate(cmp["region"].values):
        region = str(region)
        got = summ.loc[(reference_name, region)]
        rw = rows.setdefault((reference_name, region), {})
        lab, c = str(cmp["element"].values[g]), str(cmp["center"].values[g])
        cv = float(cmp["center_value"].values[g])
        rw.update({"variable": lab, "center": c, "center_value": cv, "radius": float(got["radius"]),
                   "mass": float(got["ref_mass"]), "mass_lower": float(got["ref_mass_lower"]),
                   "mass_upper": float(got["ref_mass_upper"]), "resolved": bool(got["resolved"]), "flags": ""})
        j = int(np.argmin(np.abs(cmp["radius_value"].values[g] - rw["radius"])))
        rw.update(route=("none", "importance", "conditional")[int(route[g, j])],
                  khat_is=float(cmp["ref_khat_is"].values[g, j]),
                  khat_conditional=float(cmp["ref_khat_conditional"].values[g, j]),
                  ess_conditional=float(cmp["ref_ess_conditional"].values[g, j]))
        ok_r = np.nan_to_num(route[g]) > 0
        rv = cmp["radius_value"].values[g]
        below = np.isfinite(rv) & ~ok_r & (rv < np.min(rv[ok_r], initial=np.inf))
        checked_from = np.nan
        if ok_r.any():
            # the smallest radii unchecked: the comparison reads only from where a route is
            # trusted (a Gamma(3, 6) rate at 0: 18 of its 25 smallest radii had none, where ADVI
            # was off by up to 1e19, and the check said nothing); at least MIN_UNCHECKED of them
            if below.sum() < MIN_UNCHECKED:
                continue
            checked_from = float(np.min(rv[ok_r]))
            j = int(np.flatnonzero(below)[np.argmax(rv[below])])
        else:
            j = int(np.nanargmax(rv))
        figs = {"checked_from": checked_from, "radius": float(cmp["radius_value"].values[g, j]),
                "khat_is": float(cmp["ref_khat_is"].values[g, j]),
                "n_inside": float(cmp["ref_n_inside"].values[g, j]),
                "khat_conditional": float(cmp["ref_khat_conditional"].values[g, j]),
                "ess_conditional": float(cmp["ref_ess_conditional"].values[g, j]),
                "estimate": float(cmp["ref_unreliable_estimate"].values[g, j]),
                "proposals": " and ".join(str(cmp.attrs.get("proposals", "")).split(","))}
        msg, reading, advice = render_finding("unreliable", lab, cv, figs, center_label=c)
        findings.append(Finding("unreliable", lab, c, cv, figs["radius"], None, msg, reading, figs, advice))
        rw["flags"] = "unreliable"


def _left_out(cmp):
    """The comparison's ``left_out`` attribute (one ``name: why`` line each) as a dict."""
    return dict(line.split(": ", 1) for line in str(cmp.attrs.get("left_out", "")).splitlines() if ": " in line)


def _result(findings, rows, cmp, left_out, *, warn, notes=()):
    """The :class:`CheckResult` of the rows and findings; warns when ``warn`` (at the user's line)."""
    table = pd.DataFrame.from_dict(rows, orient="index")
    if not table.empty:
        table.index = pd.MultiIndex.from_tuples(table.index, names=["model", "region"])
    if warn:
        for text in _warning_lines(findings):
            warnings.warn(LocalMassWarning(text), stacklevel=user_stacklevel())
    return CheckResult(findings, table, cmp, left_out, list(notes))


#: findings of one kind on more elements of one variable than this are one warning, not one each
MAX_WARNINGS_PER_VARIABLE = 3


def _warning_lines(findings):
    """One warning line per finding, but one line for many elements of a variable with the same finding.

    A stuck chain in a model with 35 latent states found "sampler" at every state: 35
    near-identical warnings. Beyond :data:`MAX_WARNINGS_PER_VARIABLE` the first element's
    line stands for the rest, naming how many and which (``CheckResult.findings`` has each).
    """
    groups = {}
    for f in findings:
        groups.setdefault((f.kind, f.variable.split("[", 1)[0], f.model), []).append(f)
    lines = []
    for (_, base, _), fs in groups.items():
        if len(fs) <= MAX_WARNINGS_PER_VARIABLE:
            lines.extend(f.text for f in fs)
            continue
        others = [f.variable for f in fs[1:]]
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        lines.append(f"{fs[0].text} [the same finding ({fs[0].kind}) on {len(others)} more elements of {base}: "
                     f"{shown}; CheckResult.findings lists each]")
    return lines


#: with ``model=``, :func:`check` reads the model tier at this many "ok" rows at most (numeric
#: centres) by default (its ``max_model_checks``)
MODEL_CROSS_CHECKS = 20


@public(renamed={"idata": "data"}, positional=("approximations", "prior", "factor"))
def check(data: DataLike = None, *, approximations: Mapping[str, Any] | None = None, var_names: VarNames = None,
          coords: Coords = None, group: str = "posterior", centers: CentersLike | None = None,
          radii: RadiiLike = None, prior: bool = True, factor: float = 10.0, min_ess: float = 10.0,
          min_index_shift: float = 0.5, kl_bound: float | Mapping[str, float] | None = None,
          log_evidence: float | tuple[float, float] | None = None, model: Any = None,
          reference_name: str = "posterior", warn: bool = True, comparison: xr.Dataset | None = None,
          ci_prob: float | None = None, max_model_checks: int | None = MODEL_CROSS_CHECKS) -> CheckResult:
    """Post-fit local-mass check; warns (:class:`LocalMassWarning`) only about problems.

    Parameters
    ----------
    data : DataTree, InferenceData, Dataset or dict of draws, optional
        The reference posterior (e.g. NUTS); formerly ``idata=`` (still
        accepted, with a ``FutureWarning``). Without it (``None``), pass
        ``approximations`` and ``model``: the model's posterior mass of each
        region is estimated from the approximations by importance sampling
        (:mod:`pymc_localmass.reference_free`; ``comparison.attrs["reference"]``
        is ``"model"``), and a region where no estimate is reliable is a
        finding of kind ``"unreliable"`` that recommends a reference fit.
    approximations : mapping of str to fit, optional
        Approximations to check against it (``pm.fit`` results, pymc-extras
        fits, or other draws).
    prior : bool, default True
        Compare the posterior's Mass Index with the prior's when ``data``
        has a ``prior`` group.
    factor : float, default 10
        Flag an approximation whose mass ratio to the reference lies beyond
        ``factor`` (either way) with its interval excluding it.
    centers : optional
        As in :func:`pymc_localmass.local_mass`; default :func:`default_centers`.
        Centres given here are "requested": one the draws cannot resolve is
        a finding. A mapping that names some variables leaves the others
        their default centres.
    var_names, coords, radii, ci_prob, min_ess
        As in :func:`pymc_localmass.local_mass`.
    min_index_shift : float, default 0.5
        Least difference of the index ``a`` between prior and posterior worth
        a finding (besides disjoint intervals).
    kl_bound, log_evidence
        Passed to :func:`~pymc_localmass.compare.compare`.
    model : pymc.Model, optional
        Reads bounded supports for the default centres; and where the draws'
        index row is "unresolved", "sampler" or "log-ambiguous" (see
        docs/schema.md), the model tier's index at that centre (radii below
        the draws' smallest resolved one) is computed and its agreement with
        the draws reported (a log-ambiguous row whose model index agrees is
        no finding). At "ok" rows at numeric centres of free variables (a
        support's end, a number you gave) the model tier reads the index
        below the draws' radii too, and an interval that does not overlap the
        draws' is a ``model_index`` finding.
    max_model_checks : int or None, default 20
        How many such "ok" rows the model tier cross-checks (each costs about
        0.1-0.3 s); ``None`` for all. The rows left out are named in the
        result's ``notes``.
    group : str
    reference_name : str
        Name of ``data`` in messages and tables.
    warn : bool, default True
        Emit the warnings (set False to only collect them).
    comparison : xarray.Dataset, optional
        A :func:`~pymc_localmass.compare.compare` result to reuse.

    Returns
    -------
    CheckResult
        The findings (each with what to do next), the comparison and the
        summary it read; ``.ok`` is True when there is no finding.

    See Also
    --------
    pymc_localmass.summary : The Mass Index rows the findings come from.
    pymc_localmass.compare : The region-by-region comparison of fits.
    pymc_localmass.report : The same findings as an HTML page.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> res = check({"x": rng.normal(size=(4, 1000))})
    >>> res.ok
    True

    Without a reference fit, from an approximation and its model (a good
    one here: no finding):

    >>> import pymc as pm
    >>> with pm.Model() as m:
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     y = pm.Normal("y", mu, 1.0, observed=[0.5, 1.5])
    ...     approx = pm.fit(3000, progressbar=False, random_seed=1)
    >>> res = check(approximations={"ADVI": approx}, model=m, warn=False)
    >>> res.ok, res.comparison.attrs["reference"]
    (True, 'model')
    """
    from .compare import compare

    idata = data
    if not factor > 1:
        raise InvalidInputError(f"factor must be > 1, got {factor}")
    if max_model_checks is not None and (isinstance(max_model_checks, bool) or not isinstance(
            max_model_checks, numbers.Integral) or max_model_checks < 0):
        raise InvalidInputError(f"max_model_checks must be a non-negative integer or None, got {max_model_checks!r}")
    ci = default_ci_prob() if ci_prob is None else float(ci_prob)
    if idata is None:
        return _check_reference_free(approximations, model, factor=factor, centers=centers, var_names=var_names,
                                     coords=coords, radii=radii, ci=ci, kl_bound=kl_bound,
                                     log_evidence=log_evidence, group=group, warn=warn, comparison=comparison)
    facts, names, constant = _reference_draws(idata, group, var_names, model)
    # the comparison: the user's names, or (default) every variable the fits share (exclusions only)
    cmp_var_names = var_names if var_names is not None else ([f"~{n}" for n in constant] or None)
    if approximations is not None and not isinstance(approximations, Mapping):
        raise InvalidTypeError("approximations must be a mapping {name: fit}, e.g. {'ADVI': approx}; "
                        f"got {type(approximations).__name__}")
    approximations = dict(approximations or {})
    if reference_name in approximations:
        raise InvalidInputError(f"an approximation is named {reference_name!r} like the reference; rename it")
    if model is not None and not changed_model_data(model, idata):  # (after pm.set_data: warned below)
        check_model_shapes(model, facts.draws, group)
    centers, requested = _merge_centers(centers, idata, names, approximations=approximations, model=model,
                                        group=group)
    from .compare import _naming_the_fit

    with _naming_the_fit(reference_name):  # (check takes no nan_policy: the advice names what it can do)
        curves, index = _reference_results(idata, names, centers, coords=coords, radii=radii, ci_prob=ci,
                                           group=group, min_ess=min_ess)
    run = _Run(idata, facts.draws, names, curves, index, _regions(curves, index, names),
               model=_model_for_the_tier(model, idata), group=group, ci=ci, min_ess=min_ess,
               reference_name=reference_name, requested=requested,
               max_model_checks=np.inf if max_model_checks is None else int(max_model_checks))
    from .tiers.model import reuse_densities

    with reuse_densities():  # (the model tier reads many rows of one model: its density is built once)
        _reference_findings(run)
        if prior and "prior" in facts.groups:
            _prior_findings(run, coords=coords, min_index_shift=min_index_shift)
    cmp = comparison
    if approximations and cmp is None:
        # by default the variables every fit can give (the others are listed in left_out)
        cmp = compare({reference_name: idata, **approximations}, reference=reference_name,
                      var_names=cmp_var_names, coords=coords, centers=stored_centers(index, names), radii=radii,
                      ci_prob=ci, kl_bound=kl_bound, log_evidence=log_evidence, model=model, group=group)
    left_out = {n: f"{reference_name!r}: {why}" for n, why in constant.items()}
    if cmp is not None:
        left_out.update(_left_out(cmp))
        _comparison_findings(run, cmp, factor, kinds=_fit_kinds(approximations))
    return _result(run.findings, run.rows, cmp, left_out, warn=warn, notes=_cross_check_notes(run))


@dataclass
class _Run:
    """The state of one :func:`check` of a reference fit: its draws and results, and the rows and findings so far.

    ``regions`` lists ``(variable, element label, selection, centre label)``; ``rows`` maps
    ``(fit name, region)`` to the table row's figures.
    """

    data: Any
    ds: xr.Dataset
    names: list
    curves: xr.Dataset
    index: xr.Dataset
    regions: list
    model: Any = None
    group: str = "posterior"
    ci: float = 0.89
    min_ess: float = 10.0
    reference_name: str = "posterior"
    requested: frozenset = frozenset()
    rows: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)
    cross_checks: int = 0
    max_model_checks: float = MODEL_CROSS_CHECKS
    #: "ok" rows at numeric centres of free variables left without the model's cross-check (the cap)
    cross_unchecked: list = field(default_factory=list)
    #: rows the model tier could not read (a cross-check, or a status row it raised on), by the reason it gave
    model_failed: dict = field(default_factory=dict)
    #: "sampler" rows whose draws near the centre the model's density confirms (:func:`_model_confirms_draws`)
    sampler_cleared: list = field(default_factory=list)

    def row(self, model_name, region):
        """The table row of one fit and region (created empty on first use)."""
        return self.rows.setdefault((model_name, region), {})

    @functools.cached_property
    def parents(self):
        """Free variables of the model that parameterise other free variables' distributions."""
        return frozenset() if self.model is None else _parents_of_free(self.model)


def _reference_draws(data, group, var_names, model):
    """The reference's facts, its variables and those left out as constant (when ``var_names`` is None).

    Raises when the reference is an approximation, or does not match ``model``.
    """
    if describe_fit(data, group=group, draws=False).is_approximation:
        raise InvalidTypeError("check() needs posterior draws as its reference; pass approximations= for fits")
    facts = describe_fit(data, group=group, var_names=var_names)
    names = list(facts.var_names)
    if model is not None:
        from ._validate import check_model_matches

        check_model_matches(model, facts.draws, group)
    constant = {}
    if var_names is None:  # by default, variables that never vary (a Deterministic of data) are left out
        from .compare import constant_variables

        constant = constant_variables(facts.draws, names)
        names = [n for n in names if n not in constant]
    return facts, names, constant


def _reference_findings(run):
    """Rows of the reference's regions, and its own findings.

    Per region: what its index row's status says (unresolved, sampler, log-ambiguous; see
    :func:`_status_finding`), a requested centre the draws cannot resolve, an atom.
    """
    for n, lab, sel, c in run.regions:
        rw, irow, cv, res, r = _reference_row(run, n, lab, sel, c)
        # an element that never varies, at its own value (a pinned entry, a correlation matrix's unit
        # diagonal beside varying entries): every draw exactly at the centre is no finding
        if np.isfinite(rw["atom_lower"]) and rw["atom_lower"] >= 1.0:
            rw["flags"] = ""
            continue
        flags = []
        found = _status_finding(run, rw, irow, n, lab, sel, c, cv, r)
        if found is None:
            found = _model_cross_check(run, rw, irow, n, lab, sel, c, cv, r)
        if found is not None:
            run.findings.append(found)
            flags.append(found.kind)
        if n in run.requested and not res.any() and "unresolved" not in flags and "sampler" not in flags:
            figs = {"max_radius": float(r[-1]), "min_ess": float(run.min_ess)}
            msg, reading, advice = render_finding("unresolved", lab, cv, figs, center_label=c)
            run.findings.append(Finding("unresolved", lab, c, cv, None, None, msg, reading, figs, advice))
            flags.append("unresolved")
        atom, alo, ahi = rw["atom"], rw["atom_lower"], rw["atom_upper"]
        # (a discrete variable's draws, on a lattice, are atoms at every support point: its mass at a
        # default centre (0) is no sign of a spike a continuous fit would miss; the row keeps the
        # weight; at a centre the user asked for, the weight is the answer, said as before)
        if np.isfinite(alo) and alo > 0 and (n in run.requested or not _on_lattice(run, n)):
            figs = {"atom": atom, "atom_lower": alo, "atom_upper": ahi}
            msg, reading, advice = render_finding("atom", lab, cv, figs, center_label=c)
            run.findings.append(Finding("atom", lab, c, cv, 0.0, None, msg, reading, figs, advice))
            flags.append("atom")
        rw["flags"] = ",".join(flags)


def _reference_row(run, n, lab, sel, c):
    """Fill the reference's row of one region: the curve at the smallest resolved radius, the index, the status.

    Returns ``(row, index row as a dict, centre value, resolved mask, radii)``.
    """
    cur = run.curves[n].sel(sel) if sel else run.curves[n]
    cur = cur.sel(center=c)
    ia = (run.index[n].sel(sel) if sel else run.index[n]).sel(center=c)
    cv = float(ia.sel(index_stat="center_value"))
    res = cur.sel(local_stat="resolved").values > 0.5
    r = cur.sel(local_stat="radius").values
    m = cur.sel(local_stat="mass").values
    j = int(np.argmax(res)) if res.any() else len(r) - 1
    rw = run.row(run.reference_name, f"{lab} @ {c}")
    rw.update({"variable": lab, "center": c, "center_value": cv, "radius": float(r[j]), "mass": float(m[j]),
               "mass_lower": float(cur.sel(local_stat="mass_lower").values[j]),
               "mass_upper": float(cur.sel(local_stat="mass_upper").values[j]), "resolved": bool(res.any())})
    for s in ("a", "a_lower", "a_upper", "atom", "atom_lower", "atom_upper"):
        rw[s] = float(ia.sel(index_stat=s))
    # what the draws' index row says about its own evidence (docs/schema.md, statuses)
    irow = {str(k): float(v) for k, v in zip(ia["index_stat"].values, ia.values)}
    rw["status"] = status_word(irow)
    return rw, irow, cv, res, r


def _status_finding(run, rw, irow, n, lab, sel, c, cv, r):
    """The finding of a region whose index row is "unresolved", "sampler" or "log-ambiguous", or None.

    A default centre the draws do not reach (a noise sd's 0, 11 sd from its posterior) is no
    finding by itself: only a centre the user asked for, or a sampler that may be at fault. With
    ``model=`` the model tier's index below the draws' radii is read (see :func:`_model_verdict`).
    """
    word = rw["status"]
    if word not in ("unresolved", "sampler", "log-ambiguous"):
        return None
    independent = bool(run.index.attrs.get("independent", 0))
    note = status_note(irow, lab, center_text(c, cv), dim=joint_dim(run.index.attrs), independent=independent)
    mt = None
    free = _is_free(run, n)
    failed, refused = None, False
    if run.model is not None:
        mt = _model_reading_below(run, n, sel, cv, irow, r)
        if "failed" in mt:  # said in the note below
            refused = mt.get("refused", False)
            failed, mt = mt["failed"], None
    figs = {k: irow.get(k, np.nan) for k in ("a", "a_lower", "a_upper", "nearest", "r_resolved", "n_near",
                                               "chain_z", "rhat", "n_divergent", "divergent_near")}
    conditional = False
    if mt is not None:
        rw.update(_columns(mt))
        figs.update(_columns(mt))
        drawn = _draws_mass(run, n, sel, cv, mt[_MASS_TOP][0]) if word == "sampler" else None
        raise_it, said = _model_verdict(word, mt, irow, rw, drawn, parent=n in run.parents)
        # (a hierarchy's scale whose unresolved row the model's conditional masses read a = inf)
        conditional = word == "unresolved" and raise_it
        if conditional:  # (said before the draws' advice, which the body drops)
            note = note.partition("; " + STATUS_ADVICE["unresolved"])[0] + "; " + said
        else:
            note = note + "; " + said
        if word == "sampler" and not raise_it:  # (said in the result's notes, not dropped)
            run.sampler_cleared.append(f"{lab} @ {c}")
    elif word == "log-ambiguous":
        raise_it = False  # the interval already holds every value; nothing to warn about
    tier_said = ""  # what the model tier could not do (the finding's body says it, before the advice)
    if mt is None and word != "log-ambiguous":
        raise_it = True
        if run.model is not None and free and refused:
            tier_said = f"; the model tier cannot read this element: {failed}"
        elif run.model is not None and free:
            why = f": {failed}" if failed else ""
            near, sc = float(irow.get("nearest", np.nan)), float(irow.get("scale", np.nan))
            if np.isfinite(near) and sc > 0 and near >= 2 * sc:
                # (a far centre: the conditional masses there come from the few draws nearest it)
                cause = (f"the centre lies {_fig(near / sc)} sd beyond the nearest draw, where the few draws "
                         "nearest it dominate the average of the draws' conditional masses")
            else:
                cause = ("its masses given the other variables' draws differ by orders of magnitude: a strong "
                         "dependence on them (a conditional much narrower than the marginal, as in a funnel's neck "
                         "or between correlated coefficients), or a discrete variable")
            tier_said = f"; the model tier could not resolve it either ({cause}){why}"
        elif run.model is not None:
            tier_said = (f"; the model tier integrates free variables only, and {n} is not one (a Deterministic): "
                         "ask about the free variables it is computed from")
        note += tier_said
    # (draws at the centre that mix too slowly for an index are a finding at a default centre too:
    # a badly mixed centred random walk's sd read unresolved at its mean and check() said "ok")
    if word == "unresolved" and n not in run.requested and not slow_chains(irow, independent):
        raise_it = False
    if not raise_it:
        if refused and free:  # (the model tier raised: said in the result's notes, not dropped)
            run.model_failed.setdefault(str(failed), []).append(f"{lab} @ {c}")
        return None
    # the note ends with what to do (results.STATUS_ADVICE): the advice line says it alone
    slow = word == "unresolved" and slow_chains(irow, independent)
    said = sampler_advice(irow) if word == "sampler" else SLOW_CHAINS_ADVICE if slow else STATUS_ADVICE.get(word)
    body, _, _ = note.partition("; " + said) if said else (note, "", "")
    if tier_said and not body.endswith(tier_said):  # (the advice ended the note before it)
        body += tier_said
    msg = f"{lab} near {center_text(c, cv)} [{word}]: {body}"
    # (with model= the advice to run check(idata, model=model) was to run what just ran)
    if said is SAMPLER_CHAINS_ADVICE:
        advice = said if run.model is None else said.partition("; confirm with")[0]
    elif word == "unresolved" and float(irow.get("scale", np.nan)) == 0:  # (more draws of a constant: the same)
        advice = ("nothing, if a constant is expected: the draws put no mass near the centre (a discrete latent "
                  "that never leaves one value); if it should move, the sampler may be stuck: look at its trace, "
                  "or start chains elsewhere")
    elif run.model is not None and not free and word == "unresolved":
        advice = ("more draws, or check the free variables it is computed from (the model tier does not integrate "
                  "Deterministics)")
    elif slow:  # (the note's own advice: the model tier is no cure for slow chains)
        advice = SLOW_CHAINS_ADVICE
    elif word == "sampler" and run.model is not None and not run.parents:
        # (no free variable parameterises another: no centred hierarchy to reparameterise)
        advice = "a higher target_accept or more tuning (the model has no hierarchy to reparameterise)"
    elif mt is not None and conditional:
        advice = "a non-centred parameterisation (its draws reach the funnel's neck), then check again"
    elif refused and word == "unresolved":
        # (its advice, local_mass(..., method='model'), raises the same error for this element)
        advice = "more draws; the model tier cannot take this element alone (the reason above)"
    else:
        advice = (MODEL_TRIED_ADVICE if run.model is not None else STATUS_ADVICE).get(word, "")
    return Finding(word, lab, c, cv, figs.get("r_resolved"), None, msg, body[0].upper() + body[1:] + ".", figs,
                   advice)


#: centre labels that are not a point the user or the support named (interior summaries of the draws)
_SUMMARY_CENTERS = ("mean", "median", "mode", "map")


def _model_cross_check(run, rw, irow, n, lab, sel, c, cv, r):
    """An "ok" row at a numeric centre against the model's own density: a ``model_index`` finding, or None.

    The draws read the slope at the radii they resolve; below them it may still change. A
    log-normal's mass at 0 decays faster than any power, but at the radii 4,000 draws resolve its
    slope reads about 3, and about half of the runs read a finite interval "ok" there (NUTS draws
    of LogNormal(0, 1): 22 of 42 "ok" rows). With ``model=``, the model tier reads the index below
    the draws' radii at the first ``max_model_checks`` (:data:`MODEL_CROSS_CHECKS`) such rows (a support's end, or a
    number the user gave; not a summary of the draws, whose interior index the draws read well)
    of a free variable; where its interval and the draws' do not overlap, a finding.
    """
    if rw["status"] != "ok" or str(c) in _SUMMARY_CENTERS or not np.isfinite(irow["a"]):
        return None
    if not _is_free(run, n):
        return None
    if run.cross_checks >= run.max_model_checks:
        run.cross_unchecked.append(f"{lab} @ {c}")
        return None
    run.cross_checks += 1
    mt = _model_reading_below(run, n, sel, cv, irow, r)
    if "failed" in mt:
        run.model_failed.setdefault(str(mt["failed"] or "no reason given"), []).append(f"{lab} @ {c}")
        return None
    rw.update(_columns(mt))
    if _overlap(mt, irow):
        return None
    figs = {k: irow.get(k, np.nan) for k in ("a", "a_lower", "a_upper", "r_resolved")}
    figs.update(_columns(mt))
    body = (f"the draws read a = {_fmt(irow['a'])} [{_fmt(irow['a_lower'])}, {_fmt(irow['a_upper'])}] at the "
            f"radii they resolve (down to r = {_fmt(figs['r_resolved'])}); the model's own density gives a = "
            f"{_fmt(mt['a'])} [{_fmt(mt['a_lower'])}, {_fmt(mt['a_upper'])}] below them: the draws' slope is "
            "not yet the index at the centre")
    msg = f"{lab} near {center_text(c, cv)} [model_index]: {body}"
    advice = ("read the index from the model's density there (local_mass(..., method='model')); the draws' "
              "reading describes the radii they reach")
    return Finding("model_index", lab, c, cv, figs.get("r_resolved"), None, msg,
                   f"At {lab} = {center_text(c, cv)}, {body}.", figs, advice)


def _cross_check_notes(run):
    """Notes naming the rows the model tier left out: beyond ``max_model_checks``, or where it failed."""
    def listed(rows):
        return ", ".join(rows[:5]) + (f" and {len(rows) - 5} more" if len(rows) > 5 else "")

    notes = [f"the model tier could not read {listed(rows)} ({why}): "
             f"{'these rows stand' if len(rows) > 1 else 'it stands'} on the draws alone"
             for why, rows in run.model_failed.items()]
    if run.sampler_cleared:
        notes.append(f"divergent transitions crowd among the draws nearest {listed(run.sampler_cleared)}, but the "
                     "model's own density confirms the draws there (the same index, and the same mass at their "
                     "smallest resolved radius): no sampler finding; the divergences still deserve PyMC's advice "
                     "(a higher target_accept, or a reparameterisation)")
    left = run.cross_unchecked
    if left:
        notes.append(f"the model's density cross-checked the first {run.cross_checks} 'ok' rows at numeric "
                     f"centres; {len(left)} more were read from the draws alone ({listed(left)}): pass "
                     "check(..., max_model_checks=None) to check them all, or read them with local_mass(..., "
                     "method='model')")
    return notes


#: what to do about a status finding when check() already read the model tier there
MODEL_TRIED_ADVICE = {
    "sampler": "if the model is centred, try a non-centred parameterisation; otherwise a higher target_accept "
               "or more tuning",
    "log-ambiguous": STATUS_ADVICE["log-ambiguous"],
    "unresolved": "the model tier could not resolve it either: more draws, or local_mass(..., method='model', "
                  "radii=...) at radii of your choosing",
}


def _parents_of_free(model):
    """Names of the free variables that other free variables' distributions depend on (a hierarchy's mu, tau)."""
    try:
        from pytensor.graph.traversal import ancestors
    except ImportError:  # pragma: no cover - PyTensor < 2.30
        from pytensor.graph.basic import ancestors

    free = {rv: rv.name for rv in model.free_RVs}
    out = set()
    for rv in model.free_RVs:
        out.update(free[a] for a in ancestors(rv.owner.inputs) if a in free and a is not rv)
    return frozenset(out)


def _model_verdict(word, mt, irow, rw, drawn=None, parent=False):
    """Whether a status is still a finding given the model tier's index ``mt``, and what to say of it.

    An unresolved row takes the model's index in its place (the prior/posterior comparison reads
    it, no warning); a log-ambiguous one is a finding only when the model's index falls outside the
    draws' interval; a sampler row stays a finding unless the model's density confirms the draws
    near the centre (:func:`_model_confirms_draws`; ``drawn``, the draws' mass at the model's
    largest radius, from :func:`_draws_mass`).
    """
    agree = _overlap(mt, irow)
    said = (f"the model's own density gives a = {_fmt(mt['a'])} [{_fmt(mt['a_lower'])}, "
            f"{_fmt(mt['a_upper'])}] at radii below the draws'")
    if word == "log-ambiguous":
        said += ", " + ("within" if agree else "outside") + " the draws' interval"
        return not agree, said
    if word == "unresolved" and parent and np.isposinf(mt["a"]):
        # (the model's masses are conditional on the draws of the other variables: given any draws of
        # a centred hierarchy's effects, its scale's mass at 0 decays like exp(-SS / 2 r^2), a = inf;
        # integrated over them it is positive, a = 1, but the draws never bring the effects together)
        said += (", but these are masses given the draws of the variables it parameterises (a hierarchy's "
                 "scale): near this centre those variables crowd together (the neck of a centred funnel), where "
                 "the draws never took them; given any of their draws the mass decays faster than any power, "
                 "while integrated over them it may decay like a power (a = 1 for a normal hierarchy's scale at "
                 "0 under a prior whose density is positive there): no reading of the posterior here")
        return True, said
    if word == "unresolved":
        rw.update(a=mt["a"], a_lower=mt["a_lower"], a_upper=mt["a_upper"], a_source="model")
        return False, said
    if _model_confirms_draws(mt, irow, drawn):
        r, m, m_lo, m_hi = mt[_MASS_TOP]
        said += (f", as the draws read (a = {_fmt(irow['a'])} [{_fmt(irow['a_lower'])}, {_fmt(irow['a_upper'])}]), "
                 f"and the mass within {_fmt(r)} of the centre is {_fmt(m)} [{_fmt(m_lo)}, {_fmt(m_hi)}] by the "
                 f"model, {_fmt(drawn[0])} [{_fmt(drawn[1])}, {_fmt(drawn[2])}] by the draws: they reach the centre "
                 "as often as the model's density says")
        return False, said
    if np.isfinite(irow["a"]) and not agree:
        said += f", against the draws' a = {_fmt(irow['a'])}: the sampler got this region wrong"
    return True, said


def _model_confirms_draws(mt, irow, drawn):
    """Whether the model's density confirms a "sampler" row's draws near its centre.

    A row is "sampler" where divergent transitions crowd among the draws nearest the centre.
    That is what a sampler that cannot enter a funnel's neck shows, but not only that: NUTS on a
    prior-only HalfNormal(1), Gamma(0.5) or truncated normal diverges in most runs (46 times in
    one, 15 of them among the draws nearest 0), and 4 to 7 of 10 runs (4 x 1000 draws) read
    "sampler" at 0, though their draws near 0 are as many as the density says (pooled over 10
    runs each, the share within 0.01 to 0.3 of 0 is 0.85 to 1.01 of the exact one).

    The model's density confirms the draws only where its mass near the centre does not depend
    on the sampler: the same given every draw of the other variables (its interval narrower than
    :data:`EXACT_MASS_REL` of it), a variable independent of the rest. Then, with the chains
    agreeing (``chain_z`` at most ``CHAIN_Z``), both reading a finite index with overlapping
    intervals and the model's mass at the draws' smallest resolved radius inside the draws'
    interval there (at :data:`CONFIRM_LEVEL`), the row is cleared: 14 of those 15 (the last has
    disagreeing chains). Where the mass is averaged over the sampler's draws of other
    variables it inherits their bias, and agreement proves nothing: in a centred funnel (``v ~
    N(0, 2)``, ``x ~ N(0, exp(v / 2))``) the draws under-visit ``x = 0`` (0.006 where the exact
    mass is 0.0117) and so do the model's conditional masses averaged over the draws of ``v``
    (0.0099 [0.0081, 0.0116]): the two agreed and the finding was cleared (outside review).
    """
    from .core.curves import CHAIN_Z

    if drawn is None or _MASS_TOP not in mt or not irow.get("n_divergent", 0) > 0:
        return False
    if float(irow.get("chain_z", 0.0)) > CHAIN_Z or not (np.isfinite(irow["a"]) and np.isfinite(mt["a"])):
        return False
    r, m, m_lo, m_hi = mt[_MASS_TOP]
    d, d_lo, d_hi = drawn
    if not all(np.isfinite([m, m_lo, m_hi, d, d_lo, d_hi])) or not d > 0:
        return False
    if not m_hi - m_lo <= EXACT_MASS_REL * m:  # (an average over the sampler's draws of other variables)
        return False
    # (at the draws' smallest resolved radius, where they hold min_ess effective draws: not the
    # tenth of it the model tier falls back to, where their interval allows almost anything)
    if not r >= float(irow.get("r_resolved", np.inf)) * (1 - 1e-9):
        return False
    return _overlap(mt, irow) and not (m_hi < d_lo or d_hi < m_lo)


#: the model's mass near a centre is exact, not an average over the sampler's draws of the other
#: variables, when its interval is narrower than this share of it (:func:`_model_confirms_draws`)
EXACT_MASS_REL = 1e-6

#: level of the draws' mass interval when the model's density is to confirm them near a centre
#: (:func:`_model_confirms_draws`): a sampler finding stands only on clear evidence that the draws
#: reach the centre less (or more) often than the density says; at the check's own 0.89, one run in
#: nine of a sampler that does reach it would keep the finding by chance
CONFIRM_LEVEL = 0.99


def _draws_mass(run, n, sel, cv, r):
    """The draws' mass within ``r`` of the centre ``cv`` and its interval at :data:`CONFIRM_LEVEL`.

    The interval counts the effective draws of the ball's indicator. None for a joint ball, or
    when the element's draws are not (chain, draw).
    """
    from .core.ess import indicator_ess
    from .core.intervals import beta_interval

    if n not in run.ds.data_vars or not np.isfinite(r) or np.ndim(cv) != 0:
        return None
    el = run.ds[n].sel(sel) if sel else run.ds[n]
    if set(el.dims) != {"chain", "draw"}:
        return None
    x = np.asarray(el.transpose("chain", "draw").values, dtype=float)
    inside = np.abs(x - float(cv)) <= r
    p = float(inside.mean())
    lo, hi = beta_interval(p, float(indicator_ess(inside)), CONFIRM_LEVEL)
    return p, float(lo), float(hi)


def _prior_findings(run, *, coords, min_index_shift):
    """``prior_index`` findings: regions where the posterior's index differs from the prior group's."""
    pindex, pnames = _prior_index(run, coords)
    if pindex is None:
        return
    for n, lab, sel, c in run.regions:
        if n in pnames:
            _prior_region(run, pindex, n, lab, sel, c, min_index_shift)


def _prior_index(run, coords):
    """The prior group's Mass Index at the reference's centres, and its variables (None when unavailable).

    A prior group that cannot be analysed is said (a ``RuntimeWarning``), not swallowed.
    """
    pds = describe_fit(run.data, group="prior").draws
    pnames = [n for n in run.names if n in pds.data_vars]
    if not pnames:
        return None, pnames
    cmap = stored_centers(run.index, pnames)
    try:
        _, pindex = _reference_results(run.data, pnames, cmap, coords=coords, radii=None, ci_prob=run.ci,
                                       group="prior", min_ess=run.min_ess)
    except ValueError as err:  # said, not swallowed: the comparison the user expects is missing
        warnings.warn(f"check(): the prior group could not be analysed, so prior and posterior "
                      f"indices are not compared: {err}", RuntimeWarning, stacklevel=user_stacklevel())
        return None, pnames
    return pindex, pnames


def _prior_region(run, pindex, n, lab, sel, c, min_index_shift):
    """Compare one region's posterior index with the prior's; a ``prior_index`` finding when they differ.

    For a centre more than 4 posterior sd out, the draws may see only a smooth tail's slope: the
    model tier decides when ``model=`` is given, otherwise the finding says so.
    """
    region = f"{lab} @ {c}"
    pa = (pindex[n].sel(sel) if sel else pindex[n]).sel(center=c)
    vals = {s: float(pa.sel(index_stat=s)) for s in ("a", "a_lower", "a_upper")}
    rw = run.row(run.reference_name, region)
    rw.update({f"prior_{s}": v for s, v in vals.items()})
    a, alo, ahi = rw["a"], rw["a_lower"], rw["a_upper"]
    pa_, plo, phi_ = vals["a"], vals["a_lower"], vals["a_upper"]
    # (a = inf [inf, inf]: no mass near the centre at any power, as when the data rule out a
    # scale's 0 the prior allows; the comparison skipped every infinite end)
    if np.isnan([a, alo, ahi, pa_, plo, phi_]).any():
        return
    # (at a default centre an infinite end is no finding by itself: a noise sd's 0 the data rule
    # out, in every model with a prior group; a centre the user asked about is answered)
    if n not in run.requested and not np.isfinite([alo, plo]).all():
        return
    disjoint = not _overlap(rw, vals)
    shift = abs(a - pa_) if np.isfinite(a) and np.isfinite(pa_) else np.inf
    # the model's own reading of an "ok" row (check()'s cross-check), where there is one: its
    # interval is the narrower evidence (a Poisson rate's a = 2.01 by the model, 2.2 [0.51, 4.6] by
    # the draws, against the prior's [0.86, 1.39])
    ma, mlo, mhi = (rw.get(f"model_{s}", np.nan) for s in ("a", "a_lower", "a_upper"))
    by_model = (not disjoint and rw.get("a_source") != "model" and not np.isnan([ma, mlo, mhi]).any()
                and not _overlap({"a_lower": mlo, "a_upper": mhi}, vals))
    if by_model:
        disjoint = True
        shift = abs(ma - pa_) if np.isfinite(ma) and np.isfinite(pa_) else np.inf
    if not (disjoint and shift >= min_index_shift):
        return
    figs = {"a": a, "a_lower": alo, "a_upper": ahi, "prior_a": pa_, "prior_a_lower": plo, "prior_a_upper": phi_}
    if by_model:
        figs.update(by_model=True, model_a=ma, model_a_lower=mlo, model_a_upper=mhi)
    # a centre far out in the posterior's tail: its nearest draws are several sd
    # away, and a smooth tail's steep slope looks like a high index there
    el = run.ds[n].sel(sel) if sel else run.ds[n]
    sd_post = float(el.std())
    z_c = abs(rw["center_value"] - float(el.mean())) / sd_post if sd_post > 0 else np.inf
    far = bool(np.isfinite(rw["center_value"]) and z_c > 4)
    mt = _model_tier_index(run.data, run.model, n, sel, rw["center_value"], rw["radius"], run.group, run.ci) \
        if far and run.model is not None else None
    mt = None if mt is None or "failed" in mt else mt
    if mt is not None:
        rw.update(_columns(mt))
        if _overlap(mt, vals) or abs(mt["a"] - pa_) < min_index_shift:
            return  # the model's own density agrees with the prior's index: a tail's slope
        figs.update(_columns(mt))
    elif far:
        figs.update(z=float(z_c), radius=float(rw["radius"]), model_tried=run.model is not None)
    msg, reading, advice = render_finding("prior_index", lab, rw["center_value"], figs, center_label=c)
    run.findings.append(Finding("prior_index", lab, c, rw["center_value"], None, None, msg, reading, figs, advice))
    rw["flags"] = ",".join([x for x in [rw.get("flags", "")] if x] + ["prior_index"])


def _fit_kinds(approximations):
    """Fit name -> the approximation's family (None for draws)."""
    return {str(k): describe_fit(v, draws=False).kind for k, v in (approximations or {}).items()}


def _comparison_findings(run, cmp, factor, kinds=None):
    """Rows and ``approximation`` findings of the comparison with the approximations.

    One radius per region in the whole table: the reference's rows take the comparison's (the
    radius the approximations' rows are read at).
    """
    from .compare import compare_summary

    summ = compare_summary(cmp)
    ref = cmp.attrs["reference"]
    for region in cmp["region"].values:
        key = (run.reference_name, str(region))
        if key in run.rows and (ref, str(region)) in summ.index:
            got = summ.loc[(ref, str(region))]
            run.rows[key].update({"radius": float(got["radius"]), "mass": float(got["mass"]),
                                  "mass_lower": float(got["mass_lower"]), "mass_upper": float(got["mass_upper"]),
                                  "resolved": bool(got["resolved"])})
    doubtful = {(f.variable, f.center): f.kind for f in run.findings
                if f.model is None and f.kind in ("sampler", "unresolved")}
    _approximation_findings(cmp, summ, run.rows, run.findings, run.reference_name, factor, doubtful=doubtful,
                            kinds=kinds, model_tried=run.model is not None)
