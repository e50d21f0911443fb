"""The stack level of the user's call, for warnings raised deep inside the package."""

import os
import sys

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
#: frames of the standard library's wrappers the package calls through (a cached_property
#: evaluated inside the package) are not the user's line either
_PASS_THROUGH = (os.path.abspath(__import__("functools").__file__),)


def user_stacklevel():
    """``stacklevel`` for a ``warnings.warn`` in the calling function that points at the user's line.

    Counts the frames from the caller outwards while they belong to this
    package (its public wrappers, tiers and helpers nest to different depths),
    so the warning names the first line outside it.

    Examples
    --------
    >>> import warnings
    >>> def deep():
    ...     return user_stacklevel()
    >>> deep()  # called from outside the package: the function itself
    1
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and (os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep)
                                 or os.path.abspath(frame.f_code.co_filename) in _PASS_THROUGH):
        frame = frame.f_back
        level += 1
    return level
