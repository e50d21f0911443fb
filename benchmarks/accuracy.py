"""Accuracy benchmark: exact cases at 4 chains x 1000 draws, independent and AR(1) chains.

For every exact case of THEORY.md's table (plus our own) and both chain
settings (independent draws; lag-1 autocorrelation 0.9 via a Gaussian
copula), with R replicates each, this prints

- mass-interval coverage at radii whose exact mass is in [0.01, 0.5], per band,
  against the nominal ``ci_prob`` of the installed ArviZ;
- RMSE (relative to a) and interval coverage of the polynomial index ``a`` for
  pymc-localmass (``mass_index``), the Hill (Levina-Bickel) estimator on the
  nearest 2 sqrt(n) draws, and the finite-difference slope of the reference
  code (slope of the empirical log mass between consecutive radii of a
  log-spaced grid, the paper's Figure 2 quantity, read at the small-r end);
- the atom weight error, and whether ``a = inf`` is reported where it should be.

Run: ``python benchmarks/accuracy.py [--reps 200] [--seed 1]`` (200 replicates: the
coverage of one case is then known to about +-0.015, so a 4-point target is a
statement about the intervals, not about Monte Carlo luck). Targets (issue 2),
each printed with OK or MISSED: coverage within 4 points of nominal per band of
exact mass (rare <= 0.02, middle 0.05-0.2, bulk >= 0.35) and per autocorrelation
(pooled over cases only; the table shows every case), and no single (case,
autocorrelation, band) cell further than 4 points plus 4 of its own Monte Carlo
standard errors; mean relative RMSE of ``a`` at most 0.7 x the better baseline;
atom weight error at most 0.02; ``a = inf`` for the InverseGamma case in at
least 90% of replicates and its interval open above in all. (Since the
boundary reach rule, ``core.index.BOUNDARY_REACH_ESS``, "unresolved" counts
with ``a = inf``: from AR(0.9) draws too few lie near 0 for either claim;
the share unresolved is printed.) To add a target,
append a (name, measured, target, ok) row to ``targets`` in :func:`main`.
"""

import argparse
import os
import sys
import time
import warnings

import numpy as np
from scipy import integrate, optimize, special, stats

sys.path.insert(0, os.path.dirname(__file__))
warnings.filterwarnings("ignore")

import pymc_localmass as plm  # noqa: E402
from cases import Case, all_cases, gaussian_copula  # noqa: E402
from pymc_localmass._compat import default_ci_prob  # noqa: E402
from pymc_localmass.core.index import hill_estimator  # noqa: E402

MASS_LEVELS = np.array([0.01, 0.02, 0.05, 0.1, 0.2, 0.35, 0.5])


def radii_for_masses(case, levels):
    out = []
    for level in levels:
        if case.mass(1e-12) >= level:
            continue  # an atom already holds this much
        hi = 1.0
        while case.mass(hi) < level:
            hi *= 2
        out.append(optimize.brentq(lambda r: case.mass(r) - level, 1e-12, hi, xtol=1e-14))
    return np.array(out)


def draws_for(case, rng, reps, rho):
    """(reps, dim, chain, draw)."""
    return np.stack([case.draw(rng, 4, 1000, rho) for _ in range(reps)])


def run_case(case, rng, reps, rho, ci_prob):
    X = draws_for(case, rng, reps, rho)
    n = 4000
    radii = radii_for_masses(case, MASS_LEVELS)
    levels = MASS_LEVELS[MASS_LEVELS > case.mass(1e-12)]  # the levels an atom does not already hold
    exact = case.mass(radii)
    cover, a_hat, a_lo, a_hi, atom = [], [], [], [], []
    if case.dim == 1:
        data = {"x": np.moveaxis(X[:, 0], 0, -1)}  # (chain, draw, rep)
        center = float(case.center[0])
        res = plm.local_mass(data, centers=center, radii=radii, ci_prob=ci_prob)["x"].isel(center=0)
        idx = plm.mass_index(data, centers=center, ci_prob=ci_prob)["x"].isel(center=0)
        lo = res.sel(local_stat="mass_lower").values
        hi = res.sel(local_stat="mass_upper").values
        cover = (lo <= exact) & (exact <= hi)  # (rep, radius)
        status = idx.sel(index_stat="status").values
        a_hat = idx.sel(index_stat="a").values
        a_lo = idx.sel(index_stat="a_lower").values
        a_hi = idx.sel(index_stat="a_upper").values
        b_lo = idx.sel(index_stat="b_lower").values
        b_hi = idx.sel(index_stat="b_upper").values
        atom = idx.sel(index_stat="atom").values
        dists = np.abs(X[:, 0] - center).reshape(reps, -1)
    else:
        cov_list, dl, b_lo, b_hi = [], [], [], []
        for x in X:
            data = {f"x{j}": x[j] for j in range(case.dim)}
            centers = {f"x{j}": float(case.center[j]) for j in range(case.dim)}
            res = plm.local_mass(data, joint=True, centers=centers, radii=radii, ci_prob=ci_prob)
            idx = plm.mass_index(data, joint=True, centers=centers, ci_prob=ci_prob)
            name = list(res.data_vars)[0]
            lo = res[name].sel(local_stat="mass_lower").values[0]
            hi = res[name].sel(local_stat="mass_upper").values[0]
            cov_list.append((lo <= exact) & (exact <= hi))
            v = idx[name].isel(center=0)
            a_hat.append(float(v.sel(index_stat="a")))
            a_lo.append(float(v.sel(index_stat="a_lower")))
            a_hi.append(float(v.sel(index_stat="a_upper")))
            b_lo.append(float(v.sel(index_stat="b_lower")))
            b_hi.append(float(v.sel(index_stat="b_upper")))
            atom.append(float(v.sel(index_stat="atom")))
            dl.append(case.distances(x).ravel())
        cover = np.stack(cov_list)
        a_hat, a_lo, a_hi, atom = map(np.array, (a_hat, a_lo, a_hi, atom))
        dists = np.stack(dl)
    # baselines on the same draws
    k = int(round(2 * np.sqrt(n)))
    srt = np.sort(np.where(dists > 0, dists, np.inf), axis=1)
    hill = np.array([hill_estimator(row, k) for row in srt])
    z = stats.norm.ppf(0.5 + ci_prob / 2)
    hill_lo, hill_hi = hill * (1 - z / np.sqrt(k)), hill * (1 + z / np.sqrt(k))
    # reference-code finite differences: 24 log-spaced radii spanning a factor 15
    # (0.03..0.45 in the paper) from the radius holding 2 sqrt(n) draws; slope of the
    # first few consecutive pairs, with the delta-method interval of a log-ratio
    fd, fd_lo, fd_hi = [], [], []
    for row in srt:
        grid = np.geomspace(row[k - 1], 15 * row[k - 1], 24)
        counts = np.searchsorted(row, grid, side="right").astype(float)
        s = np.diff(np.log(counts)) / np.diff(np.log(grid))
        j = slice(0, 3)
        ratio_var = (1 / counts[:-1] - 1 / counts[1:])[j].sum() / 9
        fd.append(s[j].mean())
        half = z * np.sqrt(max(ratio_var, 0)) / np.diff(np.log(grid))[0]
        fd_lo.append(s[j].mean() - half)
        fd_hi.append(s[j].mean() + half)
    if case.dim != 1:
        status = np.full(reps, np.nan)
    return dict(status=np.asarray(status), cover=np.asarray(cover, float).reshape(reps, -1), levels=levels,
                a=np.asarray(a_hat), a_lo=np.asarray(a_lo),
                a_hi=np.asarray(a_hi), b_lo=np.asarray(b_lo), b_hi=np.asarray(b_hi), atom=np.asarray(atom),
                hill=hill, hill_lo=hill_lo, hill_hi=hill_hi,
                fd=np.array(fd), fd_lo=np.array(fd_lo), fd_hi=np.array(fd_hi))


def _cut_halfnormal_ppf(cut):
    """Half-normal draws that never go below ``cut`` (a sampler stuck above 0, imitated)."""
    f_cut = 2 * special.ndtr(cut) - 1

    def ppf(u):
        return special.ndtri((np.asarray(u) * (1 - f_cut) + f_cut + 1) / 2)
    return ppf


def _horseshoe_draw(rng, chains, draws, rho):
    """beta = lambda z, lambda ~ HalfCauchy(1), z ~ N(0, 1), each from its own copula chain."""
    u = gaussian_copula(rng, (2, chains, draws), rho)
    lam = np.tan(np.pi * np.clip(u[0], 0, 1 - 1e-12) / 2)
    return (lam * special.ndtri(u[1]))[None]


def _horseshoe_mass(r):
    """P(|lambda z| <= r) = (2 / pi) int_0^(pi/2) erf(r / (sqrt(2) tan t)) dt (lambda = tan t)."""
    def one(rr):
        f = lambda t: special.erf(rr / (np.sqrt(2) * np.tan(t))) if t > 0 else 1.0  # noqa: E731
        return 2 / np.pi * integrate.quad(f, 0, np.pi / 2, points=[min(rr, 1.0)], limit=200, epsabs=1e-13)[0]
    return np.vectorize(one, otypes=[float])(np.asarray(r, float))


def extra_cases():
    pois = stats.poisson(3.0)
    return [Case("poisson3_at2", 1, lambda u: pois.ppf(np.clip(u, 1e-15, 1 - 1e-15)), [2.0],
                 lambda r: pois.cdf(2 + np.floor(r)) - pois.cdf(2 - np.floor(r) - 1), a=0,
                 atom=float(pois.pmf(2)), scale=np.sqrt(3.0)),
            # issue 11: a |Cauchy| x 0.1 scale at 0 (a = 1; heavy tail, folded density)
            Case("abs_cauchy0.1_zero", 1, lambda u: 0.1 * np.tan(np.pi * np.clip(u, 0, 1 - 1e-12) / 2), [0.0],
                 lambda r: 2 / np.pi * np.arctan(np.asarray(r) / 0.1), a=1, scale=0.15, boundary=True),
            # issue 11: a horseshoe coefficient's marginal at 0 (density ~ log(1/x): a = 1, b = 1)
            Case("horseshoe_zero", 1, None, [0.0], _horseshoe_mass, a=1, b=1, scale=1.0,
                 extra={"draw": _horseshoe_draw}),
            # a far centre: N(0, 1) at 8 (a = 1; the draws never come near)
            Case("normal_far8", 1, special.ndtri, [8.0], lambda r: special.ndtr(8 + np.asarray(r))
                 - special.ndtr(8 - np.asarray(r)), a=1),
            # chains cut off above 0.045: the truth is the half-normal's a = 1 at 0
            Case("halfnormal_cut", 1, _cut_halfnormal_ppf(0.045), [0.0],
                 lambda r: 2 * special.ndtr(np.asarray(r)) - 1, a=1, boundary=True)]


#: cases the draws cannot resolve by design (issue 11): their rows must not be "ok" with an
#: interval that excludes the truth; they are left out of the mass-coverage and RMSE targets
UNREACHABLE = ("normal_far8", "halfnormal_cut")


#: bands of exact mass for the coverage report (each band's coverage is shown per case and
#: autocorrelation, so errors in different bands or settings cannot cancel)
BANDS = {"rare": (0.0, 0.02), "middle": (0.05, 0.2), "bulk": (0.35, 1.0)}
RHOS = (0.0, 0.9)
#: cases whose masses are not in the coverage targets (a discrete law: the ball's mass jumps)
NO_COVERAGE_TARGET = ("poisson3_at2", "normal_far8", "halfnormal_cut")


def band_coverage(cover, levels):
    """Coverage per band of exact mass: {band: (coverage, number of intervals)}."""
    out = {}
    for band, (lo, hi) in BANDS.items():
        sel = (levels >= lo) & (levels <= hi)
        out[band] = (float(cover[:, sel].mean()), int(cover[:, sel].size)) if sel.any() else (np.nan, 0)
    return out


def report_targets(targets):
    """One line per target: what was measured, the target, OK or MISSED."""
    width = max(len(name) for name, *_ in targets)
    for name, measured, target, ok in targets:
        print(f"{name:{width}s}  {measured:>36s}  target {target:14s} {'OK' if ok else 'MISSED'}")
    n_missed = sum(not ok for *_, ok in targets)
    print(f"{len(targets) - n_missed} of {len(targets)} targets met")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cases", nargs="*", default=None,
                        help="run only these cases (names as printed); the targets then cover only them")
    args = parser.parse_args(argv)
    ci = default_ci_prob()
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    print(f"accuracy benchmark: 4 chains x 1000 draws, {args.reps} replicates per case and setting, "
          f"nominal ci_prob = {ci}")
    bands = " ".join(f"{b:>6s}" for b in BANDS)
    head = (f"{'case':20s} {'rho':>4s} {bands} | {'a':>5s} {'ours rmse':>9s} {'cov':>5s} | "
            f"{'hill rmse':>9s} {'cov':>5s} | {'fd rmse':>8s} {'cov':>5s} | other")
    print(f"{'':25s} mass coverage per band")
    print(head)
    print("-" * len(head))
    rel = {"ours": [], "hill": [], "fd": []}
    cov_cells = []  # (case, rho, band, coverage, n)
    atom_err = []
    inf_frac, inf_open = [], []
    a_cov_cells = []  # (case, rho, coverage of a's interval) for every finite-a case
    worse_than_hill = []  # (case, rho, ours, hill)
    wrong_ok = []  # (case, rho, share "ok" with an interval excluding the truth) for unreachable cases
    from pymc_localmass.core.curves import STATUS_WORDS
    cases = all_cases() + extra_cases()
    if args.cases:
        unknown = set(args.cases) - {c.name for c in cases}
        if unknown:
            parser.error(f"unknown case(s) {sorted(unknown)}; choose from {[c.name for c in cases]}")
        cases = [c for c in cases if c.name in args.cases]
    for case in cases:
        for rho in RHOS:
            r = run_case(case, rng, args.reps, rho, ci)
            per_band = band_coverage(r["cover"], r["levels"])
            if case.name not in NO_COVERAGE_TARGET:
                cov_cells += [(case.name, rho, band, c, n) for band, (c, n) in per_band.items() if n]
            line = f"{case.name:20s} {rho:4.1f} " + " ".join(f"{c:6.3f}" for c, _ in per_band.values())
            line += f" | {case.a:5.2f} "
            if np.isfinite(case.a) and case.a > 0:
                cells = []
                for key, lo, hi in (("a", "a_lo", "a_hi"), ("hill", "hill_lo", "hill_hi"), ("fd", "fd_lo", "fd_hi")):
                    est = r[key]
                    # unresolved rows (a NaN in [0, inf]) have no point estimate: RMSE over the others
                    rmse = np.sqrt(np.nanmean((est - case.a) ** 2)) / case.a
                    cov = np.mean((r[lo] <= case.a) & (case.a <= r[hi]))
                    cells.append((rmse, cov))
                    if case.name not in UNREACHABLE and np.isfinite(rmse):
                        rel[{"a": "ours", "hill": "hill", "fd": "fd"}[key]].append(rmse)
                a_cov_cells.append((case.name, rho, cells[0][1]))
                if case.name not in UNREACHABLE and cells[0][0] > cells[1][0]:
                    worse_than_hill.append((case.name, rho, cells[0][0], cells[1][0]))
                if case.name in UNREACHABLE:
                    ok = r["status"] == 0
                    wrong_ok.append((case.name, rho, float(np.mean(ok & ~((r["a_lo"] <= case.a)
                                                                            & (case.a <= r["a_hi"]))))))
                line += (f"{cells[0][0]:9.3f} {cells[0][1]:5.2f} | {cells[1][0]:9.3f} {cells[1][1]:5.2f} | "
                         f"{cells[2][0]:8.3f} {cells[2][1]:5.2f} |")
            else:
                line += f"{'':>9s} {'':>5s} | {'':>9s} {'':>5s} | {'':>8s} {'':>5s} |"
            if case.b != 0:
                inside = np.mean((r['b_lo'] <= case.b) & (case.b <= r['b_hi']))
                line += f" b = {case.b:g} in its interval in {inside:.0%}"
            if case.atom > 0:
                err = np.abs(r["atom"] - case.atom)
                atom_err.append(err.mean())
                line += f" atom {np.mean(r['atom']):.3f} (exact {case.atom:.3f}, mean |err| {err.mean():.4f})"
                line += f" a=0 in {np.mean(r['a'] == 0):.0%}"
            if np.isinf(case.a):
                # a = inf, or no index claimed: fewer than BOUNDARY_REACH_ESS effective draws
                # near 0 (AR(0.9): about 2.6 within a quarter sd), where the same slope is what a
                # density positive at 0 shows above the radii it levels off at
                unres = r["status"] == STATUS_WORDS.index("unresolved")
                inf_frac.append(np.mean(np.isposinf(r["a"]) | unres))
                line += f" unresolved in {np.mean(unres):.0%},"
                inf_open.append(np.mean(np.isposinf(r["a_hi"])))
                line += f" a=inf in {inf_frac[-1]:.0%} of replicates, interval open above in {inf_open[-1]:.0%}"
            st = r["status"][np.isfinite(r["status"])]
            if st.size:
                shares = {w: np.mean(st == i) for i, w in enumerate(STATUS_WORDS) if np.any(st == i)}
                line += " status " + ", ".join(f"{w} {v:.0%}" for w, v in shares.items())
            print(line, flush=True)
    print("-" * len(head))
    # coverage pooled per band and per autocorrelation (over cases), for the overview;
    # the targets below are on every (case, autocorrelation, band) cell
    print("mass coverage pooled over cases (nominal {:.2f}):".format(ci))
    for rho in RHOS:
        parts = []
        for band in BANDS:
            cells = [(c, n) for _, r_, b, c, n in cov_cells if r_ == rho and b == band]
            if not cells:
                continue
            parts.append(f"{band} {np.average([c for c, _ in cells], weights=[n for _, n in cells]):.3f}")
        print(f"  rho = {rho:.1f}: " + ", ".join(parts))
    means = {k: float(np.mean(v)) for k, v in rel.items()}
    better = min(means["hill"], means["fd"])
    worst = max(cov_cells, key=lambda cell: abs(cell[3] - ci)) if cov_cells else None
    targets = []
    # pooled over cases, per band and autocorrelation: known to about +-0.01 at 200 replicates
    for band in BANDS:
        for rho in RHOS:
            cells = [cell for cell in cov_cells if cell[1] == rho and cell[2] == band]
            if not cells:
                continue
            pooled = np.average([c for *_, c, _ in cells], weights=[n for *_, n in cells])
            targets.append((f"mass coverage, {band} band, rho {rho:.1f} (all cases)", f"{pooled:.3f}",
                            f"{ci:.2f} +- 0.04", abs(pooled - ci) <= 0.04))
    # and no single cell far off (a cell's own Monte Carlo s.e. is up to sqrt(p (1 - p) / reps),
    # 0.022 at 200 replicates, when its radii move together): 0.04 + 4 s.e.
    cell_tol = 0.04 + 4 * np.sqrt(ci * (1 - ci) / args.reps)
    if worst is not None:
        targets.append(("mass coverage, worst (case, rho, band) cell", f"{worst[3]:.3f} ({worst[0]}, "
                        f"{worst[1]:.1f}, {worst[2]})", f"{ci:.2f} +- {cell_tol:.3f}", abs(worst[3] - ci) <= cell_tol))
    targets.append(("mean relative RMSE of a / better baseline", f"{means['ours'] / better:.2f} "
                    f"({means['ours']:.3f} vs {better:.3f})", "<= 0.70", means["ours"] / better <= 0.7))
    # (a run restricted with --cases reports only the targets its cases reach)
    if atom_err:
        targets.append(("atom weight mean |error|, worst case", f"{max(atom_err):.4f}", "<= 0.02",
                        max(atom_err) <= 0.02))
    if inf_frac:
        targets.append(("a = inf or unresolved (InverseGamma), worst", f"{min(inf_frac):.0%} of replicates", ">= 95%",
                        min(inf_frac) >= 0.95))
    if a_cov_cells:
        worst_a = min(a_cov_cells, key=lambda cell: cell[2])
        targets.append(("coverage of a's interval, worst finite-a case", f"{worst_a[2]:.2f} ({worst_a[0]}, "
                        f"{worst_a[1]:.1f})", ">= 0.80", worst_a[2] >= 0.8))
    w_h = max(worse_than_hill, key=lambda cell: cell[2] / cell[3]) if worse_than_hill else None
    targets.append(("cases whose RMSE of a exceeds Hill's", f"{len(worse_than_hill)}" + (
        f" (worst {w_h[0]}, {w_h[1]:.1f}: {w_h[2]:.3f} vs {w_h[3]:.3f})" if w_h else ""), "0", not worse_than_hill))
    if wrong_ok:
        w_ok = max(wrong_ok, key=lambda cell: cell[2])
        targets.append(("unreachable centres 'ok' with a wrong interval", f"{w_ok[2]:.0%} ({w_ok[0]}, {w_ok[1]:.1f})",
                        "<= 5%", w_ok[2] <= 0.05))
    # the interval of a = inf is open above unless the row misses the truth; a one-sided miss rate
    # of (1 - ci) / 2 is what any interval at ci_prob allows
    if inf_open:
        open_target = 1 - (1 - ci) / 2
        targets.append(("a_upper = inf (InverseGamma), worst setting", f"{min(inf_open):.1%} of replicates",
                        f">= {open_target:.1%}", min(inf_open) >= open_target))
    report_targets(targets)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
