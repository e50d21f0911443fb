"""report(): self-contained HTML with the comparison, findings and figures; rendered by headless Chromium."""

import importlib
import os
import re
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pymc_localmass.check import check
from pymc_localmass.compare import compare, compare_summary
from pymc_localmass.report import report

report_mod = importlib.import_module("pymc_localmass.report")  # the module (plm.report is the function)

pm = pytest.importorskip("pymc")
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fits_and_model():
    with pm.Model() as model:
        pm.HalfNormal("s", 1.0)
        pm.Normal("m", 0.0, 1.0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            approx = pm.fit(3000, method="advi", random_seed=1, progressbar=False,
                            obj_optimizer=pm.adam(learning_rate=0.03))
    rng = np.random.default_rng(12)
    draws = {"s": np.abs(rng.normal(size=(4, 2000))), "m": rng.normal(size=(4, 2000))}
    return {"NUTS": draws, "ADVI": approx}, model


@pytest.fixture(scope="module")
def fits(fits_and_model):
    return fits_and_model[0]


@pytest.fixture(scope="module")
def written(fits, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    path = report(fits, out, title="Test report")
    return Path(path), out.read_text(encoding="utf-8")


def test_report_is_self_contained_with_key_numbers(fits, written):
    path, text = written
    assert path.exists() and text.startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary files left
    assert len(re.findall(r"src='data:image/png;base64,", text)) == 2
    assert not re.search(r"(src|href)=['\"]https?:", text) and "<script" not in text
    # the check found the collapse near s = 0 and reads it in plain language
    assert "ADVI puts " in text and "of s = 0; NUTS puts " in text
    assert "the ELBO can miss this: the mismatch costs it as little as" in text and "What to do:" in text
    # the table's numbers are compare()'s, at the finding's radius (the one its sentence quotes)
    cmp = compare(fits, reference="NUTS", centers={"s": {"mean": "mean", "0": 0.0}, "m": {"mean": "mean"}})
    chk = check(fits["NUTS"], approximations={"ADVI": fits["ADVI"]}, reference_name="NUTS", warn=False,
                centers={"s": {"mean": "mean", "0": 0.0}, "m": {"mean": "mean"}}, comparison=cmp)
    (f,) = [f for f in chk.findings if f.model == "ADVI" and f.variable == "s" and f.center == "0"]
    row = compare_summary(cmp, radius=float(f.radius)).loc[("ADVI", "s @ 0")]
    for key in ("mass", "ref_mass", "phi_reverse"):
        assert report_mod._fmt(row[key]) in text, key
    assert "Test report" in text and "ADVI: analytic" in text


def test_report_written_atomically(fits, tmp_path, monkeypatch):
    target = tmp_path / "r.html"

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(report_mod.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        report(fits, target)
    assert list(tmp_path.iterdir()) == []


def test_report_bad_input(fits, tmp_path):
    with pytest.raises(KeyError, match="reference 'X'"):
        report(fits, tmp_path / "r.html", reference="X")
    with pytest.raises(TypeError, match="non-empty mapping"):
        report([], tmp_path / "r.html")


def test_one_container_is_reported_alone_and_compare_asks_for_a_mapping(tmp_path):
    # a DataTree, an InferenceData and a Dataset are mappings (of groups, of variables):
    # report(idata, path) read each group as a fit ("the fits share no variable: x: 'sample_stats'
    # lacks it") and compare(idata) likewise; report now takes one container as the reference alone
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import make_container

    from pymc_localmass.compare import compare

    rng = np.random.default_rng(3)
    idata = make_container(posterior={"x": rng.normal(size=(4, 500))},
                           sample_stats={"diverging": np.zeros((4, 500), bool)})
    out = report(idata, tmp_path / "r.html", centers=0.0)
    page = open(out).read()
    assert "reference: <b>posterior</b>" in page and "x @ 0" in page
    for one in (idata, xr.Dataset({"x": (("chain", "draw"), rng.normal(size=(4, 500)))})):
        with pytest.raises(TypeError, match=f"got one {type(one).__name__}"):
            compare(one, centers=0.0)


def _chromium():
    proc = subprocess.run(["bash", str(ROOT / "tools" / "ensure-chromium.sh")], capture_output=True, text=True)
    if proc.returncode == 2:
        pytest.skip(f"headless Chromium unavailable: {proc.stderr.strip().splitlines()[-1]}")
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def test_report_renders_in_headless_chromium(fits, written, tmp_path):
    browser = _chromium()
    path, _ = written
    png = tmp_path / "report.png"
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}", "--window-size=1200,2000",
           path.resolve().as_uri()]
    subprocess.run(cmd, capture_output=True, timeout=120, check=False)
    assert png.exists() and png.stat().st_size > 20000
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    assert img.shape[:2] == (2000, 1200)
    assert img.std() > 0.05  # not a blank page
    # the finding box's red left border (#d9534f) is drawn near the top of the page
    red = (np.abs(img[:600, :, 0] - 0xD9 / 255) < 0.04) & (np.abs(img[:600, :, 1] - 0x53 / 255) < 0.04)
    assert red.sum() > 200
    # the embedded figures were decoded: many distinct colours below the table
    lower = (img[1000:] * 255).astype(int).reshape(-1, 3)
    assert len(np.unique(lower[::7], axis=0)) > 100
    os.environ.get("KEEP_REPORT_PNG") and png.rename(os.environ["KEEP_REPORT_PNG"])
    # the key numbers are in the document the browser built (its DOM, serialised)
    dom = subprocess.run(cmd[:-3] + [f"--user-data-dir={tmp_path / 'profile2'}", "--dump-dom",
                                     path.resolve().as_uri()], capture_output=True, text=True, timeout=120)
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    cmp = compare(fits, reference="NUTS", centers={"s": {"mean": "mean", "0": 0.0}, "m": {"mean": "mean"}})
    row = compare_summary(cmp).loc[("ADVI", "s @ 0")]
    assert "Findings" in text and "ADVI puts" in text
    for key in ("mass", "ref_mass", "phi_reverse"):
        assert report_mod._fmt(row[key]) in text, key


def test_reference_free_report_with_an_unreliable_region(fits_and_model, tmp_path):
    """A region no reference-free route can estimate (ADVI's s collapse spoils m's weights) has no radius
    resolved: its panel is empty and says so; before, the log axes of an empty panel raised in matplotlib."""
    fits, model = fits_and_model
    out = report({"ADVI": fits["ADVI"]}, tmp_path / "r.html", model=model)
    text = Path(out).read_text(encoding="utf-8")
    assert "cannot be estimated from ADVI and the model" in text  # the unreliable region's finding
    assert len(re.findall(r"src='data:image/png;base64,", text)) == 2  # the mass curves and the ELBO figure
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_report_with_a_finding_reads_other_regions_at_their_own_grids(tmp_path):
    # outside check (a regression of the same day): the report reads every region at one
    # finding's radius; compare_summary refused a radius beyond a region's own grid, and
    # report() raised whenever check() had a finding

    rng = np.random.default_rng(3)
    ref = {"tau": np.abs(rng.normal(size=(4, 1000))), "mu": rng.normal(100.0, 1e-3, size=(4, 1000))}
    approx = {"tau": rng.lognormal(0.3, 0.25, size=(4, 1000)), "mu": rng.normal(100.0, 1e-3, size=(4, 1000))}
    approx_ds = xr.Dataset({k: (("chain", "draw"), v) for k, v in approx.items()},
                            attrs={"independent": 1})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = check(ref, approximations={"Q": approx_ds}, centers={"tau": 0.0, "mu": "mean"}, warn=False)
        assert any(f.kind == "approximation" and f.variable == "tau" for f in res.findings), res
        out = report({"NUTS": ref, "Q": approx_ds}, tmp_path / "r.html", centers={"tau": 0.0, "mu": "mean"})
    assert os.path.exists(out) and "tau" in open(out).read()


def test_report_header_names_every_tier_a_fit_used():
    # a fit whose variables take two tiers (a scalar analytic, a simplex by QMC) was headed by
    # one of them ("ADVI: qmc" over a table whose beta rows say analytic)
    import xarray as xr

    cmp = xr.Dataset(coords={"model": ["NUTS", "ADVI"], "region": ["beta @ 0", "w[a] @ 0", "beta @ mean"],
                             "tier": ("model", ["samples", "qmc"]),
                             "region_tier": (("model", "region"), [["samples"] * 3, ["analytic", "qmc", "analytic"]])})
    assert report_mod._model_tiers(cmp) == ["samples", "analytic / qmc"]
    assert report_mod._model_tiers(cmp.drop_vars("region_tier")) == ["samples", "qmc"]


def test_report_names_the_regions_it_does_not_draw(tmp_path):
    # outside check: 15 elements, the default max_panels=9: the page drew theta[0..8] and never
    # said that theta[9..14] were left out of the figure
    rng = np.random.default_rng(2)
    fits = {"A": {"theta": rng.normal(size=(4, 300, 15))}, "B": {"theta": rng.normal(0.1, 1.0, size=(4, 300, 15))}}
    page = Path(report(fits, tmp_path / "r.html", centers=0.0)).read_text()
    assert "9 of 15 regions drawn (max_panels=9" in page
    assert "not drawn: theta[9] @ 0, theta[10] @ 0" in page and "theta[14] @ 0." in page
    page = Path(report(fits, tmp_path / "r2.html", centers=0.0, max_panels=15)).read_text()
    assert "regions drawn" not in page
