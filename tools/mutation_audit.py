"""Mutation audit: does the suite notice intervals of the wrong size, and biased estimates?

Each mutation is a small text edit of the package (an interval narrowed or
widened, an estimate biased) applied to a temporary copy of the repository;
the named tests are run on that copy, and the script prints, per mutation,
whether some test failed (caught) and which. The working tree is never
touched. An edit that no longer matches the source (the code moved on) is
reported as "stale", not as caught.

Run from the repository root, with the environment to test::

    .venv-modern/bin/python tools/mutation_audit.py            # every mutation
    .venv-legacy/bin/python tools/mutation_audit.py mass-0.6x a+5%
    python tools/mutation_audit.py --list

Exit status: 0 when every mutation run was caught, 1 otherwise.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CAL = "tests/test_calibration.py"

# name: (file, exact text, replacement, tests to run, what it means)
MUTATIONS = {
    "mass-0.6x": (
        "pymc_localmass/core/curves.py",
        "        lo, hi = beta_interval(mass, n_adj, ci_prob)\n",
        "        lo, hi = beta_interval(mass, n_adj, ci_prob)\n"
        "        lo, hi = mass - 0.6 * (mass - lo), mass + 0.6 * (hi - mass)\n",
        [f"{CAL}::test_mass_interval_coverage_and_width", "tests/test_core_curves.py", "tests/test_core_ess.py"],
        "samples-tier mass intervals narrowed to 0.6x about the estimate",
    ),
    "mass-2x": (
        "pymc_localmass/core/curves.py",
        "        lo, hi = beta_interval(mass, n_adj, ci_prob)\n",
        "        lo, hi = beta_interval(mass, n_adj, ci_prob)\n"
        "        lo, hi = np.maximum(mass - 2 * (mass - lo), 0), np.minimum(mass + 2 * (hi - mass), 1)\n",
        [f"{CAL}::test_mass_interval_coverage_and_width"],
        "samples-tier mass intervals widened to 2x about the estimate",
    ),
    "t_adjusted_n-2.5x": (
        "pymc_localmass/core/intervals.py",
        "    return n_eff * factor\n",
        "    return 2.5 * n_eff * factor\n",
        [f"{CAL}::test_mass_interval_coverage_and_width", "tests/test_core_curves.py", "tests/test_core_ess.py"],
        "t_adjusted_n returns 2.5x the effective draws (mass and atom intervals about 0.63x)",
    ),
    "model-2x": (
        "pymc_localmass/tiers/model.py",
        "    lo = np.maximum(mass - tq * se, 0.0)\n    hi = np.minimum(mass + tq * se, 1.0)\n",
        "    lo = np.maximum(mass - 2 * tq * se, 0.0)\n    hi = np.minimum(mass + 2 * tq * se, 1.0)\n",
        [f"{CAL}::test_model_tier_rao_blackwell_coverage_and_width"],
        "model-tier mass intervals 2x wider",
    ),
    "model-0.5x": (
        "pymc_localmass/tiers/model.py",
        "    lo = np.maximum(mass - tq * se, 0.0)\n    hi = np.minimum(mass + tq * se, 1.0)\n",
        "    lo = np.maximum(mass - 0.5 * tq * se, 0.0)\n    hi = np.minimum(mass + 0.5 * tq * se, 1.0)\n",
        [f"{CAL}::test_model_tier_rao_blackwell_coverage_and_width"],
        "model-tier mass intervals 0.5x as wide",
    ),
    "a+5%": (
        "pymc_localmass/core/curves.py",
        "    index[:, INDEX_STATS.index(\"scale\")] = fit[\"unit\"]\n",
        "    index[:, INDEX_STATS.index(\"scale\")] = fit[\"unit\"]\n"
        "    index[:, [INDEX_STATS.index(k) for k in (\"a\", \"a_lower\", \"a_upper\")]] *= 1.05\n",
        [f"{CAL}::test_polynomial_index_bias_and_two_sided_coverage", "tests/test_index.py"],
        "a and its interval 5% high (samples tier)",
    ),
    "a-point+5%": (
        "pymc_localmass/core/curves.py",
        "    index[:, INDEX_STATS.index(\"scale\")] = fit[\"unit\"]\n",
        "    index[:, INDEX_STATS.index(\"scale\")] = fit[\"unit\"]\n"
        "    index[:, INDEX_STATS.index(\"a\")] *= 1.05\n",
        [f"{CAL}::test_polynomial_index_bias_and_two_sided_coverage", "tests/test_index.py"],
        "the point estimate of a 5% high, its interval unchanged",
    ),
    "atom+6%": (
        "pymc_localmass/core/curves.py",
        "        atom = np.where(has_atom, ties / n_valid, 0.0)\n",
        "        atom = np.where(has_atom, 1.06 * ties / n_valid, 0.0)\n",
        [f"{CAL}::test_atom_weight_coverage_bias_and_width", "tests/test_core_curves.py", "tests/test_index.py"],
        "atom weight (and its interval) 6% high",
    ),
    "atom-ess-bool": (
        "pymc_localmass/core/curves.py",
        "(d[i] == 0).reshape(C, N).astype(float) @ (",
        "(d[i] == 0).reshape(C, N) @ (",
        [f"{CAL}::test_atom_weight_coverage_bias_and_width", "tests/test_core_curves.py"],
        "the atom's ESS from 0/1 per batch (the bug fixed in issue 18)",
    ),
}


def copy_repo(dest):
    for name in ("pymc_localmass", "tests", "benchmarks"):
        shutil.copytree(os.path.join(ROOT, name), os.path.join(dest, name),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "conftest.py"):
        if os.path.exists(os.path.join(ROOT, name)):
            shutil.copy(os.path.join(ROOT, name), dest)


def run(name, python, extra_args):
    path, old, new, tests, _ = MUTATIONS[name]
    with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
        copy_repo(tmp)
        target = os.path.join(tmp, path)
        with open(target) as fh:
            src = fh.read()
        if src.count(old) != 1:
            return "stale", [f"the text to mutate occurs {src.count(old)} times in {path}"], 0.0
        with open(target, "w") as fh:
            fh.write(src.replace(old, new))
        cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf", "--no-header", *extra_args, *tests]
        t0 = time.perf_counter()
        # python -m puts the copy's root first on sys.path: the mutated package is imported
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": tmp})
        dt = time.perf_counter() - t0
    failed = sorted(set(re.findall(r"^FAILED (\S+)", proc.stdout, flags=re.M)))
    if failed:
        return "caught", failed, dt
    if proc.returncode not in (0, 1):  # collection or usage error: not a verdict
        return "error", [proc.stdout[-2000:] + proc.stderr[-2000:]], dt
    return "NOT caught", [], dt


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--python", default=sys.executable, help="interpreter of the environment to test")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the unmutated run of the tests (which must pass for a verdict to mean anything)")
    args, extra = parser.parse_known_args(argv)
    if args.list:
        for name, (path, *_, tests, what) in MUTATIONS.items():
            print(f"{name:18s} {path:34s} {what}")
        return 0
    names = args.names or list(MUTATIONS)
    unknown = [n for n in names if n not in MUTATIONS]
    if unknown:
        parser.error(f"unknown mutation(s) {unknown}; see --list")
    print(f"mutation audit with {args.python}")
    if not args.no_baseline:  # the same tests on an unmutated copy must pass
        tests = sorted({t for n in names for t in MUTATIONS[n][3]})
        with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
            copy_repo(tmp)
            proc = subprocess.run([args.python, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rf", "--no-header",
                                   *extra, *tests], cwd=tmp, capture_output=True, text=True,
                                  env={**os.environ, "PYTHONPATH": tmp})
        if proc.returncode != 0:
            print("baseline (no mutation) FAILS: fix the suite first\n" + proc.stdout[-3000:] + proc.stderr[-2000:])
            return 2
        print(f"baseline (no mutation): {proc.stdout.strip().splitlines()[-1]}")
    all_caught = True
    for name in names:
        verdict, detail, dt = run(name, args.python, extra)
        all_caught &= verdict == "caught"
        print(f"{name:18s} -> {verdict} ({dt:.0f} s): {MUTATIONS[name][4]}", flush=True)
        for line in detail:
            print(f"    {line}")
    return 0 if all_caught else 1


if __name__ == "__main__":
    sys.exit(main())
