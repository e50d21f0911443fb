"""Radii: the one rule for explicit radii, shared by every tier, and the samples tier's grid description."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from .errors import InvalidInputError


def check_radii(radii, var):
    """Explicit radii of one variable (or joint ball) checked and sorted, or None for the automatic grid.

    Parameters
    ----------
    radii : array_like or None
        Absolute radii: a non-empty 1-D array of finite, positive, distinct numbers.
    var : str or None
        The variable they are for (named in the errors).

    Returns
    -------
    ndarray or None

    Examples
    --------
    >>> check_radii([0.5, 0.1], "x").tolist()
    [0.1, 0.5]
    """
    if radii is None:
        return None
    r = np.asarray(radii, dtype=float)
    if r.ndim != 1 or r.size == 0:
        raise InvalidInputError(f"radii for {var!r} must be a non-empty 1-D array of absolute radii, "
                                f"got shape {r.shape}")
    if not np.isfinite(r).all():
        raise InvalidInputError(f"radii for {var!r} must be finite")
    if (r <= 0).any():
        raise InvalidInputError(f"radii for {var!r} must be > 0, got {r[r <= 0][:3].tolist()}")
    if np.unique(r).size != r.size:
        raise InvalidInputError(f"radii for {var!r} contain duplicates")
    return np.sort(r)


def radii_for(radii, var):
    """The explicit radii of ``var`` (``radii`` as given, or its entry in a mapping), checked; or None.

    The one radii rule of every tier: a mapping is keyed by variable (or by
    the joint ball's ``"a+b"`` name), a variable it does not name gets the
    automatic grid.

    Examples
    --------
    >>> radii_for({"x": [0.2, 0.1]}, "x").tolist(), radii_for({"x": [0.1]}, "y")
    ([0.1, 0.2], None)
    """
    if isinstance(radii, Mapping):
        return check_radii(radii.get(var), var)
    return check_radii(radii, var)


def grid_rule(radii, names, joint, n_radii, min_ess):
    """The samples tier's ``grid_rule`` attribute: explicit radii, the automatic grid, or which have which.

    Parameters
    ----------
    radii : array_like, mapping or None
    names : list of str
        The selected variables.
    joint : bool
    n_radii : int
    min_ess : float

    Returns
    -------
    str
    """
    auto = f"auto: {int(n_radii)} log-spaced radii from the {min_ess:g}-th nearest draw to one posterior sd"
    return rule_for(radii, names, joint, auto)


def rule_for(radii, names, joint, auto):
    """A tier's ``grid_rule``: ``"explicit"``, its automatic grid's rule ``auto``, or which ball has which.

    ``radii`` as given (None, one grid, or a mapping keyed by variable or by the joint
    ball's ``"a+b"`` name, as :func:`radii_for` reads it).

    Examples
    --------
    >>> rule_for({"tau": [0.1, 0.2]}, ["tau", "mu"], False, "auto: 25 radii")
    'explicit for tau; auto: 25 radii for the others'
    >>> rule_for(None, ["tau"], False, "auto: 25 radii"), rule_for([0.1], ["tau"], False, "auto: 25 radii")
    ('auto: 25 radii', 'explicit')
    """
    balls = ["+".join(names)] if joint else list(names)
    if radii is None:
        return auto
    if not isinstance(radii, Mapping):
        return EXPLICIT
    return combine_rules({n: EXPLICIT if n in radii else auto for n in balls})


#: the ``grid_rule`` of explicit radii
EXPLICIT = "explicit"
_OTHERS = "the others"


def combine_rules(rules):
    """One ``grid_rule`` for the variables' own rules ``{name: rule}``: their common rule, or which have which.

    Rules that differ are listed as ``"<rule> for <names>; ..."``, explicit
    radii first and the last rule ``for the others`` (docs/schema.md);
    :func:`variable_rules` reads it back.

    Examples
    --------
    >>> combine_rules({"tau": "explicit", "mu": "auto: 25 radii"})
    'explicit for tau; auto: 25 radii for the others'
    >>> combine_rules({"tau": "explicit", "mu": "explicit"})
    'explicit'
    """
    groups = {}
    for name, rule in rules.items():
        groups.setdefault(str(rule), []).append(str(name))
    if len(groups) <= 1:
        return next(iter(groups), EXPLICIT)
    order = sorted(groups, key=lambda r: r != EXPLICIT)  # (stable: explicit radii first, then as met)
    parts = [f"{r} for {', '.join(groups[r])}" for r in order[:-1]]
    return "; ".join(parts + [f"{order[-1]} for {_OTHERS}"])


def _names_in(listed, names):
    """The variables ``names`` a ``", "``-joined list names, a name holding ``", "`` itself included.

    Examples
    --------
    >>> _names_in("a, b, c", ["a, b", "c", "d"])
    ['a, b', 'c']
    """
    parts, out, i = listed.split(", "), [], 0
    while i < len(parts):
        # (the longest run of parts that is one variable's name: "a, b" before "a")
        j = next((j for j in range(len(parts), i, -1) if ", ".join(parts[i:j]) in names), i + 1)
        out.append(", ".join(parts[i:j]))
        i = j
    return out


def variable_rules(rule, names):
    """Each variable's radius-grid rule ``{name: rule}``, read from a results dataset's ``grid_rule``.

    The inverse of :func:`combine_rules` for the variables ``names`` of the
    dataset (a rule that names no variable holds for all of them).

    Examples
    --------
    >>> variable_rules("explicit for tau; auto: 25 radii for the others", ["tau", "mu"])
    {'tau': 'explicit', 'mu': 'auto: 25 radii'}
    >>> variable_rules("explicit", ["tau", "mu"])
    {'tau': 'explicit', 'mu': 'explicit'}
    """
    rule = str(rule)
    names = [str(n) for n in names]
    parts = re.split(r"; (?=explicit for |auto)", rule)
    if len(parts) == 1 and not rule.startswith(f"{EXPLICIT} for "):
        return dict.fromkeys(names, rule)
    out = {}
    for part in parts:
        text, sep, who = part.rpartition(" for ")
        if not sep:
            return dict.fromkeys(names, rule)  # (not a list of rules: the rule of every variable)
        listed = [n for n in names if n not in out] if who == _OTHERS else _names_in(who, names)
        out.update((n, text) for n in listed if n in names)
    return {n: out.get(n, rule) for n in names}
