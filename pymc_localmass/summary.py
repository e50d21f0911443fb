"""Tabular summary of Mass Indices: one row per variable element and centre."""

import numpy as np
import pandas as pd
import xarray as xr

from ._compat import is_datatree, is_inferencedata
from .results import element_labels, read


def summary(data, *, var_names=None, **kwargs):
    """Mass Index table: one row per variable element and centre.

    Parameters
    ----------
    data : container with a ``local_mass_index`` group, a results Dataset, or draws
        Draws are analysed with :func:`pymc_localmass.mass_index` first
        (``kwargs`` go there).
    var_names : str or list of str, optional
        Restrict the rows to these variables.

    Returns
    -------
    pandas.DataFrame
        Index ``(variable, center)``; columns the ``index_stat`` labels
        (``a``, ``a_lower``, ..., ``atom``, ``center_value``, ``scale``, ...).

    Examples
    --------
    >>> import numpy as np, pymc_localmass as plm
    >>> rng = np.random.default_rng(0)
    >>> df = plm.summary({"x": rng.normal(size=(4, 500, 2))})
    >>> list(df.index.names), df.shape[0]
    (['variable', 'center'], 2)
    """
    from .estimators import mass_index

    index = None
    if isinstance(data, xr.Dataset) and "index_stat" in data.dims:
        index = data
    elif (is_datatree(data) or is_inferencedata(data)) and not kwargs:
        got = read(data)
        if got is not None and got[1] is not None:
            index = got[1]
    if index is None:
        index = mass_index(data, var_names=var_names, **kwargs) if not (
            isinstance(data, xr.Dataset) and "local_stat" in data.dims) else mass_index(data)
    names = list(index.data_vars)
    if var_names is not None:
        wanted = [var_names] if isinstance(var_names, str) else list(var_names)
        missing = [v for v in wanted if v not in names]
        if missing:
            raise KeyError(f"variable(s) {missing} not in the results; available: {names}")
        names = wanted
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
    return df
