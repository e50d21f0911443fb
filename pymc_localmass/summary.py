"""Tabular summary of Mass Indices: one row per variable element and centre."""

import numpy as np
import pandas as pd

from ._compat import is_datatree, is_inferencedata
from .results import element_labels, read, status_note, status_word, stored_centers


def summary(data, *, var_names=None, filter_vars=None, **kwargs):
    """Mass Index table: one row per variable element and centre.

    Parameters
    ----------
    data : container with a ``local_mass_index`` group, a results Dataset, or draws
        Draws are analysed with :func:`pymc_localmass.mass_index` first
        (``kwargs`` go there). A container with stored results and
        ``kwargs`` (e.g. another ``ci_prob``) is analysed again at the
        stored variables and centres unless ``centers`` is given.
    var_names : str or list of str, optional
        Restrict the rows to these variables (ArviZ-style: ``~`` excludes).
    filter_vars : {None, "like", "regex"}, optional
        How ``var_names`` match, as in ArviZ.

    Returns
    -------
    pandas.DataFrame
        Index ``(variable, center)``; columns the ``index_stat`` labels
        (``a``, ``a_lower``, ..., ``atom``, ``center_value``, ``scale``, ...,
        ``nearest``, ``r_resolved``, ...) and, last, ``status`` (a word:
        "ok", "atom", "lattice", "log-ambiguous", "unresolved", "sampler"; see
        docs/schema.md) and ``note`` (one plain line saying why, and what to
        do; empty when "ok").

    Examples
    --------
    >>> import numpy as np, pymc_localmass as plm
    >>> rng = np.random.default_rng(0)
    >>> df = plm.summary({"x": rng.normal(size=(4, 500, 2))})
    >>> list(df.index.names), df.shape[0]
    (['variable', 'center'], 2)
    """
    from .estimators import is_results, mass_index

    index = None
    if is_results(data, "index_stat"):
        index = data
    elif is_datatree(data) or is_inferencedata(data):
        got = read(data)
        stored = got[1] if got is not None else None
        if stored is not None and not kwargs:
            index = stored
        elif stored is not None and "centers" not in kwargs and not int(stored.attrs.get("joint", 0)) \
                and not kwargs.get("joint"):
            # computed again (other settings), at the stored analysis's centres and variables
            sel = mass_index(stored, var_names=var_names, filter_vars=filter_vars)
            names = list(sel.data_vars)
            kwargs["centers"] = stored_centers(stored, names)
            var_names, filter_vars = names, None
            if "coords" not in kwargs:  # the stored elements (a coords= selection at the time)
                kwargs["coords"] = {d: sel[d].values for d in sel.dims
                                    if d in sel.coords and d not in ("center", "index_stat", "group")}
    if index is None:
        index = mass_index(data, var_names=var_names, filter_vars=filter_vars, **kwargs)
    else:
        index = mass_index(index, var_names=var_names, filter_vars=filter_vars)
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
    df["note"] = [status_note(r, name=k[0], center=k[1]) for r, k in zip(records, keys)]
    return df
