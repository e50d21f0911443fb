"""Centres and distances (numpy only)."""

import numpy as np

NORMS = ("euclidean", "max", "scaled", "scaled_max")
CENTER_KEYWORDS = ("mean", "median", "mode")


#: the half-sample mode's halving stops once its interval holds at most this share of the
#: draws, and returns the interval's midpoint. Halving down to three draws put the centre on
#: the tightest cluster of the sample, whose chance excess of nearby draws the Mass Index then
#: read as mass: at the modes of a normal, a uniform, a half-normal and a Gamma(3) (a = 1 at
#: each), "ok" intervals held 1 in 61-82% of 100 elements (4 x 1000 independent draws; a
#: about 0.9). Stopped at an eighth of the draws (2.5 times the narrowest index window's
#: 5%), the selection acts on scales wider than the windows that read the index: 98-100%,
#: a about 1.0, and the centre's spread about the mode no larger (a normal's: 0.16 sd, was 0.20)
MODE_STOP_FRACTION = 1 / 8


def half_sample_mode(x):
    """Half-sample mode of a 1-D sample (after Bickel and Fruehwirth 2006), stopped early.

    Repeatedly keep the shortest interval holding half of the (sorted)
    values, until it holds at most :data:`MODE_STOP_FRACTION` of them, and
    return its midpoint (a centre chosen from the draws' finest cluster would
    bias the Mass Index read at it). For samples on a lattice (see
    :func:`.lattice.lattice`) the most frequent value is returned instead.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> abs(half_sample_mode(rng.gamma(3.0, size=20000)) - 2.0) < 0.3
    True
    """
    x = np.sort(np.asarray(x, dtype=float).ravel())
    from .lattice import is_lattice

    if x.size >= 2 and bool(is_lattice(x[None])[0]):
        vals, counts = np.unique(x, return_counts=True)
        return float(vals[np.argmax(counts)])
    stop = max(int(MODE_STOP_FRACTION * x.size), 3)
    while x.size > stop:
        h = (x.size + 1) // 2
        widths = x[h - 1 :] - x[: x.size - h + 1]
        i = int(np.argmin(widths))
        x = x[i : i + h]
    if x.size > 3:
        return float(0.5 * (x[0] + x[-1]))
    if x.size == 3:
        x = x[:2] if (x[1] - x[0]) < (x[2] - x[1]) else (x[1:] if (x[1] - x[0]) > (x[2] - x[1]) else x[1:2])
    return float(x.mean())


def center_values(draws, kind):
    """Centre of each element's draws.

    Parameters
    ----------
    draws : ndarray, shape (..., n)
        Draws, with chain and draw flattened into the last axis.
    kind : {"mean", "median", "mode"}

    Returns
    -------
    ndarray, shape (...)

    Examples
    --------
    >>> center_values(np.array([[0.0, 1.0, 2.0]]), "median")
    array([1.])
    """
    draws = np.asarray(draws, dtype=float)
    if kind == "mean":
        return draws.mean(axis=-1)
    if kind == "median":
        return np.median(draws, axis=-1)
    if kind == "mode":
        flat = draws.reshape(-1, draws.shape[-1])
        return np.array([half_sample_mode(row) for row in flat]).reshape(draws.shape[:-1])
    raise ValueError(f"unknown centre keyword {kind!r}; expected one of {CENTER_KEYWORDS}")


def joint_distances(draws, center, norm="euclidean", sd=None):
    """Distances of joint draws to a centre vector.

    Parameters
    ----------
    draws : ndarray, shape (d, ...)
        Coordinates along the first axis.
    center : ndarray, shape (d,)
    norm : {"euclidean", "max", "scaled", "scaled_max"}
        ``scaled`` and ``scaled_max`` divide coordinate j by ``sd[j]`` first.
    sd : ndarray, shape (d,), optional
        Needed by the scaled norms.

    Returns
    -------
    ndarray, shape (...)

    Examples
    --------
    >>> joint_distances(np.array([[3.0], [4.0]]), np.zeros(2))
    array([5.])
    """
    draws = np.asarray(draws, dtype=float)
    center = np.asarray(center, dtype=float).reshape((-1,) + (1,) * (draws.ndim - 1))
    diff = draws - center
    if norm in ("scaled", "scaled_max"):
        if sd is None:
            raise ValueError(f"norm={norm!r} needs the coordinates' sd")
        diff = diff / np.asarray(sd, dtype=float).reshape(center.shape)
    if norm in ("euclidean", "scaled"):
        # squares of a copy rescaled by a power of two: no overflow or underflow at any float64 scale
        from .lattice import pow2_scale

        s = float(pow2_scale(np.abs(diff).reshape(-1)))
        return np.sqrt(((diff / s) ** 2).sum(axis=0)) * s
    if norm in ("max", "scaled_max"):
        return np.abs(diff).max(axis=0)
    raise ValueError(f"unknown norm {norm!r}; expected one of {NORMS}")
