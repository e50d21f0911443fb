"""Exact test cases (THEORY.md's table plus our own) as samplers with exact masses.

Every case draws chains through a Gaussian copula: ``u = Phi(z)`` with ``z``
independent N(0, 1) (``rho = 0``) or a stationary AR(1) with lag-1
autocorrelation ``rho``, then ``x = F^{-1}(u)``; the marginal law is exact in
both settings. Each case knows its centre, its exact ball mass m(r), and its
Mass Index (a, b) and atom weight.
"""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import special, stats


def gaussian_copula(rng, shape, rho):
    """Uniforms of shape (..., chain, draw) with AR(1) dependence along draw."""
    z = rng.standard_normal(shape)
    if rho:
        s = np.sqrt(1 - rho**2)
        out = np.empty(shape)
        out[..., 0] = z[..., 0]
        for t in range(1, shape[-1]):
            out[..., t] = rho * out[..., t - 1] + s * z[..., t]
        z = out
    return special.ndtr(z)


def _sym(ppf_abs):
    def ppf(u):
        sign = np.where(u < 0.5, -1.0, 1.0)
        return sign * ppf_abs(np.abs(2 * u - 1))
    return ppf


def _logdens_abs_ppf(v):
    v = np.clip(v, 1e-300, 1 - 1e-16)
    w = special.lambertw(-v / np.e, k=-1).real
    return np.exp(1 + w)


def _atom_ppf(w):
    def ppf(u):
        lo = (1 - w) / 2
        x = np.zeros_like(u)
        left = u < lo
        right = u > lo + w
        x[left] = special.ndtri(u[left] / (1 - w))
        x[right] = special.ndtri((u[right] - w) / (1 - w))
        return x
    return ppf


@dataclass
class Case:
    name: str
    dim: int                       # 1: elementwise; >1: joint euclidean ball
    ppf: Callable                  # marginal inverse CDF per coordinate
    center: np.ndarray
    mass: Callable                 # exact m(r)
    a: float
    b: float = 0.0
    atom: float = 0.0
    scale: float = 1.0             # unit of radius (posterior sd, or RMS distance)
    boundary: bool = False
    sd: float = 1.0
    extra: dict = field(default_factory=dict)

    def draw(self, rng, chains, draws, rho):
        if "draw" in self.extra:  # a law drawn from several copula coordinates
            return self.extra["draw"](rng, chains, draws, rho)
        u = gaussian_copula(rng, (self.dim, chains, draws), rho)
        return self.ppf(u)

    def distances(self, x):
        c = np.asarray(self.center, float).reshape(-1, 1, 1)
        if self.dim == 1:
            return np.abs(x[0] - c[0])
        return np.sqrt(((x - c) ** 2).sum(axis=0))


def _offcenter_mass(r, d=3, shift=1.0):
    # P(||Z - s e1|| <= r) for Z ~ N(0, I_3): noncentral chi-square with lambda = s^2
    return stats.ncx2.cdf(np.asarray(r) ** 2, d, shift**2)


def all_cases():
    ig = stats.invgamma(3.0)
    gam = stats.gamma(3.5)
    log_sd = np.sqrt(1 / 9)
    return [
        Case("normal_1d_mean", 1, special.ndtri, [0.0], lambda r: stats.chi2.cdf(np.square(r), 1), a=1),
        Case("normal_2d_mean", 2, special.ndtri, [0.0, 0.0], lambda r: stats.chi2.cdf(np.square(r), 2), a=2,
             scale=np.sqrt(2)),
        Case("normal_3d_mean", 3, special.ndtri, [0.0] * 3, lambda r: stats.chi2.cdf(np.square(r), 3), a=3,
             scale=np.sqrt(3)),
        Case("normal_3d_offmean", 3, special.ndtri, [1.0, 0.0, 0.0], _offcenter_mass, a=3, scale=np.sqrt(3)),
        Case("gamma3.5_zero", 1, gam.ppf, [0.0], lambda r: special.gammainc(3.5, r), a=3.5,
             scale=gam.std(), boundary=True),
        Case("gamma1.5_zero", 1, stats.gamma(1.5).ppf, [0.0], lambda r: special.gammainc(1.5, r), a=1.5,
             scale=stats.gamma(1.5).std(), boundary=True),
        Case("sqrt_density_zero", 1, _sym(lambda v: v**2), [0.0], lambda r: np.sqrt(np.minimum(r, 1)),
             a=0.5, scale=np.sqrt(1 / 5)),
        Case("log_density_zero", 1, _sym(_logdens_abs_ppf), [0.0],
             lambda r: np.minimum(r, 1) * (1 + np.log(1 / np.minimum(r, 1))), a=1, b=1, scale=log_sd),
        Case("uniform_end", 1, lambda u: u, [0.0], lambda r: np.minimum(r, 1), a=1, scale=np.sqrt(1 / 12),
             boundary=True),
        Case("beta0.5_zero", 1, stats.beta(0.5, 1).ppf, [0.0], lambda r: np.sqrt(np.minimum(r, 1)), a=0.5,
             scale=stats.beta(0.5, 1).std(), boundary=True),
        Case("atom0.3_normal", 1, _atom_ppf(0.3), [0.0],
             lambda r: 0.3 + 0.7 * (2 * special.ndtr(r) - 1), a=0, atom=0.3, scale=np.sqrt(0.7)),
        Case("invgamma3_zero", 1, ig.ppf, [0.0], lambda r: ig.cdf(r), a=np.inf, scale=ig.std(),
             boundary=True),
    ]
