"""Every entry of the bad-input catalogue (tests/bad_input_catalogue.py): its right answer or its error.

docs/errors.md is generated from the same catalogue by scripts/error_catalogue.py.
"""

import re
import warnings

import pytest

from bad_input_catalogue import CASES, Answer, Raises

try:
    import pymc_localmass.errors as errors
except ImportError:  # measuring code from before the documented errors (scripts/error_catalogue.py)
    errors = None


def run_case(case):
    """("answer", result) or ("error", exception) for one catalogue entry."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "answer", case.call()
        except Exception as err:  # noqa: BLE001 - classified by the caller
            return "error", err


def outcome(case, lenient=False):
    """(ok, got): whether the entry gets its right answer or its specific documented error.

    ``lenient``: any exception with the expected message counts, whatever its class.
    """
    kind, got = run_case(case)
    if isinstance(case.expect, Answer):
        ok = kind == "answer" and bool(case.expect.check(got))
        return ok, got
    exp: Raises = case.expect
    cls = getattr(errors, exp.error, None)
    right_class = lenient or (cls is not None and isinstance(got, cls))
    ok = kind == "error" and right_class and re.search(exp.match, str(got)) is not None
    return ok, got


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_catalogue_entry(case):
    ok, got = outcome(case)
    if isinstance(case.expect, Answer):
        assert ok, f"{case.input}: expected {case.expect.what}, got {type(got).__name__}: {str(got)[:300]}"
    else:
        assert ok, (f"{case.input}: expected {case.expect.error} matching {case.expect.match!r}, "
                    f"got {type(got).__name__}: {str(got)[:300]}")


def test_docs_table_lists_every_entry():
    """docs/errors.md is generated from this catalogue (scripts/error_catalogue.py): same rows."""
    import os
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, os.path.join(root, "scripts"))
    try:
        from error_catalogue import rows_of
    finally:
        sys.path.pop(0)
    with open(os.path.join(root, "docs", "errors.md")) as fh:
        documented = rows_of(fh.read())
    want = [(f"`{c.id}`", c.input.replace("|", "/"),
             c.expect.what if isinstance(c.expect, Answer) else f"`{c.expect.error}`") for c in CASES]
    assert documented == want, "docs/errors.md is out of date: run scripts/error_catalogue.py"


def test_documented_errors_keep_the_builtin_bases():
    assert issubclass(errors.InvalidInputError, ValueError)
    assert issubclass(errors.SchemaError, ValueError)
    assert issubclass(errors.InvalidTypeError, TypeError)
    assert issubclass(errors.UnknownNameError, KeyError)
    assert str(errors.UnknownNameError("no quotes")) == "no quotes"
    assert all(issubclass(c, errors.LocalMassError) for c in errors.DOCUMENTED_ERRORS)


def test_schema_error_lists_every_violation():
    from bad_input_catalogue import _broken

    def edit(vals, labels):
        vals[..., labels.index("radius")] = -1.0
        vals[..., labels.index("mass")] = 2.0
    with pytest.raises(errors.SchemaError) as info:
        _broken(edit)
    assert len(info.value.violations) >= 2
