"""Centres: the accepted forms of ``centers`` and their one normal form, shared by every tier."""

from __future__ import annotations

import decimal
import fractions
import numbers
from collections.abc import Mapping

import numpy as np
import xarray as xr

from .errors import InvalidInputError, InvalidTypeError, UnknownNameError

#: the keywords a centre may be given as
CENTER_KEYWORDS = ("mean", "median", "mode", "boundary", "map")


def center_label(spec):
    """The label of one centre along dim ``center``: the keyword, the number (``%g``) or the array.

    An array of at most :data:`ARRAY_LABEL_SIZE` numbers is labelled by its
    values to four significant digits, ``"(0, 1.5)"`` (a joint centre, a few elements' centres); a
    longer one (a centre per element) ``"array"``. Label a centre yourself
    with a mapping, ``{"tau": {"zero": 0.0}}``.

    Examples
    --------
    >>> center_label("mean"), center_label(0.25), center_label(np.array([0.0, 1.5]))
    ('mean', '0.25', '(0, 1.5)')
    >>> center_label(np.zeros(8))
    'array'
    """
    if isinstance(spec, str):
        return spec
    if isinstance(spec, numbers.Number):
        return f"{float(spec) + 0.0:g}"  # (+ 0.0: -0.0 is the centre 0, labelled '0')
    values = np.asarray(spec.values if isinstance(spec, xr.DataArray) else spec)
    if 0 < values.size <= ARRAY_LABEL_SIZE and values.dtype.kind in "biuf":
        # (four significant digits: a title's worth; arrays whose labels coincide take a suffix)
        return "(" + ", ".join(f"{float(v) + 0.0:.4g}" for v in values.ravel()) + ")"
    return "array"


#: arrays of at most this many numbers are labelled by their values (:func:`center_label`)
ARRAY_LABEL_SIZE = 4


def normalise_centers(centers, var_names):
    """``{var: [(label, spec), ...]}`` from the many accepted forms of ``centers``.

    Every tier reads its centres from this one form: for each selected
    variable, the labelled centre specifications (a keyword, a number, an
    array or a DataArray) in the order asked, repeated labels made unique.

    Parameters
    ----------
    centers : str, number, array, list, tuple or mapping
        As ``local_mass(centers=...)``.
    var_names : list of str
        The selected variables (a mapping may name only these).

    Returns
    -------
    dict of str to list of (str, object)

    Examples
    --------
    >>> normalise_centers({"tau": [0.0, "mean"]}, ["tau", "mu"])
    {'tau': [('0', 0.0), ('mean', 'mean')], 'mu': [('mean', 'mean')]}
    """

    def several(spec):
        if isinstance(spec, Mapping) and spec:
            out = []
            for k, v in spec.items():
                if isinstance(v, (Mapping, list, tuple)):
                    raise InvalidTypeError(f"centers: the centre labelled {k!r} must be one centre (a keyword, a "
                                           f"number or an array), got {type(v).__name__}")
                out.extend((str(k), s) for _, s in several(v))
            return out
        if isinstance(spec, (Mapping, list, tuple)) and len(spec) == 0:
            raise InvalidInputError("centers is empty: give at least one centre (a keyword, a number or an array)")
        if isinstance(spec, (list, tuple)):
            out = []
            for item in spec:
                out.extend(several(item))
            return out
        if isinstance(spec, str) and spec not in CENTER_KEYWORDS:
            raise InvalidInputError(f"unknown centre keyword {spec!r}; expected a number, an array or one of "
                                    f"{CENTER_KEYWORDS}")
        if isinstance(spec, bool) or not isinstance(spec, (str, numbers.Number, np.ndarray, xr.DataArray)):
            raise InvalidTypeError(f"centers: cannot use {type(spec).__name__} as a centre")
        if isinstance(spec, (decimal.Decimal, fractions.Fraction)):
            spec = float(spec)  # (the real number it names)
        if isinstance(spec, numbers.Real) and spec == 0:
            spec = spec + 0  # (-0.0 is the centre 0: the same label, and a repeat of 0.0)
        return [(center_label(spec), spec)]

    if isinstance(centers, Mapping):
        unknown = [k for k in centers if k not in var_names]
        if unknown:
            raise UnknownNameError(
                f"centers given for unknown or unselected variable(s) {unknown}; selected: {var_names} "
                "(a mapping of centres is keyed by variable; label several centres with a nested "
                "mapping, e.g. {'tau': {'zero': 0.0, 'mean': 'mean'}})"
            )
        out = {v: several(centers.get(v, "mean")) for v in var_names}
    else:
        specs = several(centers)
        out = {v: specs for v in var_names}
    return {v: _unique_labels(v, specs) for v, specs in out.items()}


def _unique_labels(var, specs):
    """Labels of one variable's centres made unique; the same centre asked twice is an error.

    Numbers whose ``%g`` labels coincide but whose values differ are labelled
    by their shortest exact form (``0.1`` and ``0.1000001``); other repeated
    labels (two arrays) take a suffix ``#2``, ``#3`` that no number reads as.
    """
    def same(a, b):
        if isinstance(a, str) or isinstance(b, str):
            return isinstance(a, str) and isinstance(b, str) and a == b
        if isinstance(a, numbers.Number) and isinstance(b, numbers.Number):
            return float(a) == float(b) or (np.isnan(float(a)) and np.isnan(float(b)))
        return False

    for i, (lab_i, spec_i) in enumerate(specs):
        for lab_j, spec_j in specs[:i]:
            if lab_i == lab_j and same(spec_i, spec_j):
                raise InvalidInputError(f"centers: {var!r} is given the centre {lab_i} twice; ask for each "
                                        "centre once")
    labels = [lab for lab, _ in specs]
    if len(set(labels)) == len(labels):
        return specs
    fixed = []
    for lab, spec in specs:
        if labels.count(lab) > 1 and isinstance(spec, numbers.Number) and not isinstance(spec, bool):
            lab = repr(float(spec))
        fixed.append((lab, spec))
    used, out = set(), []
    for lab, spec in fixed:
        new, k = lab, 1
        while new in used:
            k += 1
            new = f"{lab}#{k}"
        used.add(new)
        out.append((new, spec))
    return out
