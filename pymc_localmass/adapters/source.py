"""The one edge: whatever the user passed, converted once into a :class:`Source`.

The public estimators call :func:`convert` at their entrance; past it
nothing asks what the input was (a DataTree, an InferenceData, a Dataset, a
dict of arrays, a PyMC or pymc-extras approximation, or results computed
before): the tiers read the :class:`Source`'s fields.

The heavier conversions (a group's draws, an approximation's Gaussian) are
done on first use and kept, so that a call which never needs them (a
selection among results stored in a container) does not pay for them, and
errors are raised where the tier first needs the data, as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import xarray as xr

from .._compat import is_datatree, is_inferencedata
from ..errors import InvalidInputError
from . import SAMPLE_DIMS, check_sample_dims, divergences, independent_draws, to_dataset
from .approx import from_approximation, is_approximation

#: the kinds of input a :class:`Source` can hold
KINDS = ("draws", "approximation", "curves", "index")


@dataclass(eq=False)
class Source:
    """One input of the estimators, converted at the entrance.

    Parameters
    ----------
    kind : {"draws", "approximation", "curves", "index"}
        Draws (any container of them), a fitted approximation, or a results
        dataset computed before (``local_mass``: "curves", ``mass_index``:
        "index").
    raw : object
        What the user passed (kept for write-back and for reading results
        stored in a container).
    group : str or list of str
        The group(s) asked for.
    model : pymc.Model, optional
        The model handle the tiers may use (MAP centres, the model tier,
        transforms of pymc-extras fits).
    sample_dims : tuple of str
        The dims of the draws in ``raw`` (renamed ``chain``/``draw`` in
        :attr:`draws`).
    independent_given : bool, optional
        ``independent=`` as passed (None: inferred, see :attr:`independent`).

    Attributes
    ----------
    container : bool
        ``raw`` is a DataTree or InferenceData (results may be stored in it
        and attached to it).
    type_name : str
        The type of ``raw``, for messages.
    draws : xarray.Dataset
        The group's draws, dims ``(chain, draw, *element dims)``.
    independent : bool
        Whether the draws are independent (one chain is enough).
    divergent : ndarray or None
        The sampler's divergent transitions, shape ``(chain, draw)``, for
        dependent draws of a container's ``posterior``.
    approximation : GaussianApproximation
        The fitted approximation (``kind == "approximation"``).
    results : xarray.Dataset
        The results dataset (``kind`` "curves" or "index").
    """

    kind: str
    raw: Any
    group: Any = "posterior"
    model: Any = None
    sample_dims: tuple = SAMPLE_DIMS
    independent_given: bool | None = None
    container: bool = field(init=False)
    type_name: str = field(init=False)

    def __post_init__(self):
        self.container = is_datatree(self.raw) or is_inferencedata(self.raw)
        self.type_name = type(self.raw).__name__

    def for_group(self, group):
        """The same input read from another group (one group of a list)."""
        return Source(self.kind, self.raw, group, self.model, self.sample_dims, self.independent_given)

    @cached_property
    def draws(self):
        """The draws of :attr:`group`, dims ``(chain, draw, ...)`` (converted on first use)."""
        return to_dataset(self.raw, self.group, self.sample_dims)

    @cached_property
    def independent(self):
        """Whether the draws are independent: as given, else inferred (see ``independent_draws``)."""
        ind = (independent_draws(self.raw, self.group, self.draws, self.sample_dims)
               if self.independent_given is None else bool(self.independent_given))
        if len(self.sample_dims) == 1 and not ind:
            raise InvalidInputError(
                f"sample_dims={self.sample_dims} names one sequence of draws without chains; its intervals "
                "hold for independent draws only: pass independent=True if they are (e.g. an approximation's "
                "or forward draws), or keep the chains of MCMC draws, e.g. sample_dims=('chain', 'draw')")
        return ind

    @cached_property
    def divergent(self):
        """Divergent transitions matching :attr:`draws`, or None (independent draws have none)."""
        if self.independent:
            return None
        return divergences(self.raw, self.group, self.draws, self.sample_dims)

    @cached_property
    def approximation(self):
        """The :class:`~pymc_localmass.adapters.approx.GaussianApproximation` of ``raw``."""
        group = self.group if isinstance(self.group, str) else "posterior"
        return from_approximation(self.raw, model=self.model, group=group)

    @property
    def results(self):
        """The results dataset passed in (``kind`` "curves" or "index")."""
        return self.raw


def is_results(data, stat_dim):
    """A results dataset (``local_stat`` or ``index_stat`` axis, no draws), not draws."""
    return isinstance(data, xr.Dataset) and stat_dim in data.dims and not set(SAMPLE_DIMS) <= set(data.dims)


def convert(data, *, group="posterior", model=None, sample_dims=SAMPLE_DIMS, independent=None):
    """The input of a public estimator as a :class:`Source` (the one place that asks what it is).

    Parameters
    ----------
    data : DataTree, InferenceData, Dataset, dict of arrays, approximation, Source or results Dataset
        As passed to :func:`pymc_localmass.local_mass`; a :class:`Source` is
        returned as it is.
    group : str or list of str, default "posterior"
    model : pymc.Model, optional
    sample_dims : tuple of str, default ("chain", "draw")
        The dims of the draws: two (chain-like, draw-like) or one (a single
        sequence of independent draws).
    independent : bool, optional
        The draws are independent (default: inferred from the input).

    Returns
    -------
    Source

    Examples
    --------
    >>> import numpy as np
    >>> src = convert({"x": np.zeros((2, 50))})
    >>> src.kind, dict(src.draws["x"].sizes)
    ('draws', {'chain': 2, 'draw': 50})
    """
    if isinstance(data, Source):
        return data
    sample_dims = check_sample_dims(sample_dims)
    if is_results(data, "local_stat"):
        kind = "curves"
    elif is_results(data, "index_stat"):
        kind = "index"
    elif is_approximation(data):
        kind = "approximation"
    else:
        kind = "draws"
    return Source(kind, data, group, model, sample_dims, independent)
