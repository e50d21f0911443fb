"""The package's base error classes, defined in the core so that it can raise them.

The core imports nothing of the package above it; :mod:`pymc_localmass.errors`
re-exports these (and documents them), and their ``__module__`` is set to it,
so tracebacks and pickles name ``pymc_localmass.errors``.
"""

__all__ = ["LocalMassError", "InvalidInputError", "InvalidTypeError", "UnknownNameError"]


class LocalMassError(Exception):
    """Base class of the errors pymc-localmass raises for bad input."""


class InvalidInputError(LocalMassError, ValueError):
    """A value that is not allowed; the message names the argument or variable."""


class InvalidTypeError(LocalMassError, TypeError):
    """A value of the wrong kind; the message names the argument and what is accepted."""


class UnknownNameError(LocalMassError, KeyError):
    """A name (variable, group, dimension, label, mapping key) the data do not have."""

    def __str__(self):  # KeyError would show the message in quotes
        return str(self.args[0]) if self.args else ""


for _cls in (LocalMassError, InvalidInputError, InvalidTypeError, UnknownNameError):
    _cls.__module__ = "pymc_localmass.errors"
