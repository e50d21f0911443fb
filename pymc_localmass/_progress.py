"""The one progress bar of the package: ``tqdm`` when installed, silence otherwise.

Progress bars only decorate long computations, so the package does not
require tqdm (the optional ``progress`` extra); without it every
computation runs silently.
"""

from __future__ import annotations


def progress_bar(total, desc, unit):
    """A ``tqdm`` progress bar, or None when tqdm (the optional ``progress`` extra) is not installed.

    Parameters
    ----------
    total : int
        Number of units of work.
    desc : str
        Text shown before the bar.
    unit : str
        Name of one unit of work ("element", "draw", "task").

    Returns
    -------
    tqdm.auto.tqdm or None
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit=unit)


class Progress:
    """A progress bar over units of work that may be disabled or unavailable.

    Called (or :meth:`update`-d) with the number of units just done; the
    core's estimators take such a callable as their ``progress`` argument.

    Parameters
    ----------
    total : int
        Number of units of work.
    enabled : bool
        Show a bar (when tqdm is installed).
    desc : str, default "local mass"
    unit : str, default "element"
    lazy : bool, default True
        Open the bar at the first update (the samples tier: dask-backed work
        shows dask's own bar instead and never updates this one) rather than
        at once.

    Attributes
    ----------
    enabled : bool
        Whether a bar was asked for (a tier passes this on to dask's own bar).
    """

    def __init__(self, total, enabled, desc="local mass", unit="element", *, lazy=True):
        self.bar = None
        self.total = int(total)
        self.enabled = bool(enabled)
        self.desc = desc
        self.unit = unit
        self._opened = False
        if not lazy:
            self._open()

    def _open(self):
        if self.enabled and not self._opened:
            self._opened = True
            self.bar = progress_bar(self.total, self.desc, self.unit)

    def __call__(self, n):
        """Record ``n`` more units done (nothing for ``n <= 0``)."""
        self._open()
        if self.bar is not None and n > 0:
            self.bar.update(int(n))

    update = __call__

    def rewind(self, n):
        """Take back ``n`` units recorded by work that is being redone (nothing for ``n <= 0``)."""
        if self.bar is not None and n > 0:
            self.bar.update(-int(n))

    def close(self):
        """Close the bar, if one was opened."""
        if self.bar is not None:
            self.bar.close()
