"""The public functions' calling conventions: one decorator, a few type aliases.

Every public function declares its options as explicit keyword-only
parameters (``help()``, ``inspect.signature`` and IDEs show them). The
:func:`public` decorator adds what a plain signature cannot:

* a misspelt keyword is named with the nearest accepted one
  (``local_mass() got an unexpected keyword argument 'centres' (did you mean
  'centers'?)``);
* argument names that were renamed stay accepted, with a ``FutureWarning``
  (``add_local_mass(idata=...)`` is ``add_local_mass(data=...)``);
* options that used to be positional stay accepted by position, with a
  ``FutureWarning``.

``inspect.signature`` of a decorated function is the function's own.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, TypeVar, Union

import numpy as np
import numpy.typing as npt

F = TypeVar("F", bound=Callable[..., Any])

#: draws or a container of them: DataTree, InferenceData, Dataset, dict of arrays, a PyMC approximation
DataLike = Any
#: ``"mean"``, ``"median"``, ``"mode"``, ``"boundary"``, ``"map"``, a number, an array, a list or a mapping
CentersLike = Union[str, float, npt.ArrayLike, Sequence[Any], Mapping[str, Any]]
RadiiLike = Union[npt.ArrayLike, Mapping[str, npt.ArrayLike], None]
VarNames = Union[str, Sequence[str], None]
FilterVars = Literal[None, "like", "regex"]
Coords = Union[Mapping[str, Any], None]
Group = Union[str, Sequence[str]]
Norm = Literal["euclidean", "max", "scaled", "scaled_max"]
Method = Literal["auto", "samples", "analytic", "model"]
#: the dims of the draws: ``(chain-like, draw-like)`` or one dim of independent draws, e.g. ``("sample",)``
SampleDims = Union[tuple[str, str], tuple[str], Sequence[str]]

__all__ = ["public", "given", "DataLike", "CentersLike", "RadiiLike", "VarNames", "FilterVars", "Coords",
           "Group", "Norm", "Method", "SampleDims"]


def _simple(value: Any) -> bool:
    if isinstance(value, tuple):  # e.g. sample_dims=("chain", "draw")
        return all(_simple(v) for v in value)
    return value is None or isinstance(value, (str, bool, int, float))


def given(func: Callable[..., Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword-only options of ``func`` whose value in ``values`` is not the default.

    A value equal to its default (the same object, or an equal string,
    number, bool or None) counts as not given: passing a default is the same
    as leaving it out.
    """
    out = {}
    for name, par in inspect.signature(func).parameters.items():
        if par.kind is not inspect.Parameter.KEYWORD_ONLY or name not in values:
            continue
        value, default = values[name], par.default
        if value is default:
            continue
        if _simple(value) and _simple(default) and type(value) is type(default) and value == default:
            continue
        out[name] = value
    return out


def public(*, renamed: Mapping[str, str] | None = None, positional: Sequence[str] = ()) -> Callable[[F], F]:
    """Decorate a public function (see the module docstring).

    Parameters
    ----------
    renamed : mapping of str to str, optional
        Old argument name to its new name; the old one is accepted with a
        ``FutureWarning``.
    positional : sequence of str, optional
        Keyword-only options that used to be positional, in their old order;
        passing them by position still works, with a ``FutureWarning``.
    """
    renamed = dict(renamed or {})

    def decorate(func: F) -> F:
        sig = inspect.signature(func)
        params = sig.parameters
        known = sorted(params)
        leading = [n for n, p in params.items()
                   if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        fname = func.__name__
        # options declared ``bool`` (or ``bool | None``): a truthy string such as "no" would act as True
        flags = {n: "None" in str(p.annotation) for n, p in params.items()
                 if str(p.annotation).replace(" ", "") in ("bool", "bool|None", "<class'bool'>")}

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if len(args) > len(leading):
                extra = args[len(leading):]
                if len(extra) > len(positional):
                    raise TypeError(f"{fname}() takes {len(leading)} positional argument(s) but {len(args)} "
                                    "were given")
                moved = list(positional[:len(extra)])
                warnings.warn(
                    f"{fname}(): passing {', '.join(moved)} by position is deprecated; pass "
                    f"{', '.join(f'{m}=...' for m in moved)}", FutureWarning, stacklevel=2)
                for key, value in zip(moved, extra):
                    if key in kwargs:
                        raise TypeError(f"{fname}() got multiple values for argument {key!r}")
                    kwargs[key] = value
                args = args[:len(leading)]
            for old, new in renamed.items():
                if old in kwargs:
                    if new in kwargs or (new in leading and leading.index(new) < len(args)):
                        raise TypeError(f"{fname}() got both {old!r} (the old name) and {new!r}; pass {new!r}")
                    warnings.warn(f"{fname}(): the argument {old!r} is now called {new!r}; {old!r} will be "
                                  "removed", FutureWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            for key in kwargs:
                if key not in params:
                    near = difflib.get_close_matches(key, known, n=1)
                    hint = f" (did you mean {near[0]!r}?)" if near else ""
                    raise TypeError(f"{fname}() got an unexpected keyword argument {key!r}{hint}")
                if key in flags:
                    _check_flag(fname, key, kwargs[key], flags[key])
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _check_flag(fname: str, name: str, value: Any, none_ok: bool) -> None:
    """Raise ``InvalidTypeError`` unless ``value`` is a bool (or None where allowed)."""
    if isinstance(value, (bool, np.bool_)) or (none_ok and value is None):
        return
    from .errors import InvalidTypeError

    allowed = "True, False or None" if none_ok else "True or False"
    raise InvalidTypeError(f"{fname}(): {name} must be {allowed}, got {value!r} ({type(value).__name__})")
