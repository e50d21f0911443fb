"""Radii: the one rule for explicit radii, shared by every tier, and the samples tier's grid description."""

from __future__ import annotations

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
    if radii is None:
        return auto
    if not isinstance(radii, Mapping):
        return "explicit"
    given = [n for n in (["+".join(names)] if joint else names) if n in radii]
    if len(given) == (1 if joint else len(names)):
        return "explicit"
    if not given:
        return auto
    return f"explicit for {', '.join(given)}; {auto} for the others"
