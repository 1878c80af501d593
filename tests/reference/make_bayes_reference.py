"""Independent brute-force posteriors for the Bayesian random-effects models -> bayes.json.

A different code path from `analysis.stats.bayes` (which it does not import): no
conjugacy, no Gauss-Hermite, no Chebyshev series, no product integration.

* The joint posterior p(mu, tau | y) is evaluated on a dense tensor grid: mu uniform on
  a box, tau uniform in u (u = tau for the half-normal prior; u = 2/pi arctan(tau / s),
  the prior CDF, for the half-Cauchy), located by a coarse scan of the log posterior
  (the box keeps everything within 45 log units of the maximum).
* Likelihood: normal model, the product of N(y_i; mu, v_i + tau^2) densities; binomial
  model, each study's integral over its random intercept by scipy's adaptive
  Gauss-Kronrod `quad_vec` (relative tolerance 1e-13) in u = (theta - mu) / tau over
  [-40, 40] (the rest of the line holds < 1e-340 of the normal mass), vectorised over
  the mu grid.
* Marginals by Simpson's rule; CDFs by integrating cubic splines of the marginal
  densities; quantiles by Brent's method. The predictive CDF integrates
  Phi((t - mu) / tau) over the mu grid (Simpson) for each tau, or, where tau is below
  eight grid spacings, E[F(t - tau Z | tau)] by 60-node Gauss-Hermite quadrature over Z
  with the spline CDF of mu | tau.
* Convergence: every case is computed on two grids, (161 tau x 641 mu) and 1.5 times
  finer (241 x 961); for k = 400, whose posterior is concentrated (and whose 328
  distinct studies make each tau node cost 328 integrals), 61 x 161 and 91 x 241; for
  largen (n up to 1300), 481 x 1921 and 721 x 2881 on a box within 30 log units. The
  finer result is stored with the largest difference as ``grid_error`` (proportion and
  tau scales), and ``edge_density``, the largest posterior density on the box boundary
  relative to the mode, shows that the box holds the posterior.

Run from the repository root (slow, about an hour; once):
    .venv/bin/python tests/reference/make_bayes_reference.py tests/reference/bayes.json
The file is saved after every case; a rerun keeps the cases already there, except those
whose id contains the optional second argument (e.g. hc0.5; "all" redoes everything).
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import numpy as np
import scipy
from scipy import integrate, interpolate, optimize, special, stats

MU_PRIOR = (0.0, 10.0)
LEVEL = 0.95
THRESHOLD = 0.5


def logit_effects(x, n):
    """metafor escalc PLO with add = 1/2 to = "only0" (written out here independently)."""
    x, n = np.asarray(x, float), np.asarray(n, float)
    c = np.where((x == 0) | (x == n), 0.5, 0.0)
    a, b = x + c, n - x + c
    return np.log(a / b), 1.0 / a + 1.0 / b


def tau_of_u(prior, u):
    kind, scale = prior
    return scale * np.tan(0.5 * np.pi * u) if kind == "half-cauchy" else u


def log_prior_u(prior, u):
    kind, scale = prior
    return -0.5 * (u / scale) ** 2 if kind == "half-normal" else np.zeros_like(u)


def u_max(prior):
    kind, scale = prior
    return 1.0 if kind == "half-cauchy" else 8.0 * scale


def study_lik(x, n, mu, tau):
    """p(x | mu, tau) / max_theta Bin(x | n, theta), for every mu (vector), one tau."""
    lmax = 0.0 if x in (0, n) else x * np.log(x / n) + (n - x) * np.log1p(-x / n)
    if tau == 0.0:
        return np.exp(x * mu - n * np.logaddexp(0.0, mu) - lmax)

    def f(u):
        th = mu + tau * u
        return np.exp(x * th - n * np.logaddexp(0.0, th) - lmax - 0.5 * u * u) / np.sqrt(2 * np.pi)
    # |u| > 40 carries less than 1e-340 of the normal mass. The error control is relative
    # to the largest component, so components ~1e-200 of it can come out slightly
    # negative: they are clipped to 0 (such mu have no posterior mass).
    return np.maximum(integrate.quad_vec(f, -40.0, 40.0, epsabs=0.0, epsrel=1e-13, norm="max",
                                         limit=20000)[0], 0.0)


def loglik_grid(model, data, mu, tau):
    """log p(y | mu, tau) (up to a constant) on the grid tau (T,) x mu (M,)."""
    if model == "normal":
        y, v = logit_effects(data["x"], data["n"])
        var = v[None, None, :] + tau[:, None, None] ** 2
        return stats.norm.logpdf(y[None, None, :], mu[None, :, None], np.sqrt(var)).sum(-1)
    pairs, counts = np.unique(np.stack([data["x"], data["n"]], axis=1), axis=0, return_counts=True)
    out = np.zeros((tau.size, mu.size))
    for (x, n), c in zip(pairs, counts, strict=True):
        for b, t in enumerate(tau):
            with np.errstate(divide="ignore"):
                out[b] += c * np.log(study_lik(float(x), float(n), mu, float(t)))
    return out


def simpson_weights(m, h):
    w = np.ones(m)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w * h / 3.0


def locate(model, data, prior, keep_within=45.0):
    """Box (mu_lo, mu_hi, u_hi) holding the posterior, by a coarse scan.

    For k = 400 (328 distinct studies) the binomial box is that of the normal model
    widened by half its width on each side (the stored edge density checks it).
    """
    if model == "binomial" and data["x"].size > 100:
        lo, hi, top = locate("normal", data, prior, keep_within)
        return lo - 0.5 * (hi - lo), hi + 0.5 * (hi - lo), min(1.5 * top, u_max(prior))
    mu = np.linspace(-80.0, 80.0, 161)
    u = np.linspace(0.0, u_max(prior), 41)
    for _ in range(3):
        lp = np.full((u.size, mu.size), -np.inf)  # half-Cauchy: no density at u = 1
        ok = u < 1.0 if prior[0] == "half-cauchy" else np.ones(u.size, dtype=bool)
        lp[ok] = loglik_grid(model, data, mu, tau_of_u(prior, u[ok])) + log_prior_u(prior, u[ok])[:, None]
        lp += -0.5 * ((mu - MU_PRIOR[0]) / MU_PRIOR[1]) ** 2
        keep = lp > lp.max() - keep_within
        ia, ib = np.nonzero(keep.any(axis=0))[0][[0, -1]], np.nonzero(keep.any(axis=1))[0][-1]
        lo = mu[max(ia[0] - 1, 0)]
        hi = mu[min(ia[1] + 1, mu.size - 1)]
        top = u[min(ib + 1, u.size - 1)]
        mu = np.linspace(lo, hi, 81)
        u = np.linspace(0.0, top, 41)
    return lo, hi, top


def posterior_summary(model, data, prior, n_tau, n_mu, box):
    mu_lo, mu_hi, u_hi = box
    mu = np.linspace(mu_lo, mu_hi, n_mu)
    u = np.linspace(0.0, u_hi, n_tau)
    # half-Cauchy: u = 1 is tau = inf, where these data have no density
    finite = u < 1.0 if prior[0] == "half-cauchy" else np.ones(u.size, dtype=bool)
    tau = np.where(finite, tau_of_u(prior, np.where(finite, u, 0.0)), np.inf)
    lp = np.full((u.size, mu.size), -np.inf)
    lp[finite] = loglik_grid(model, data, mu, tau[finite]) + log_prior_u(prior, u[finite])[:, None]
    lp += -0.5 * ((mu - MU_PRIOR[0]) / MU_PRIOR[1]) ** 2
    p = np.exp(lp - lp.max())
    edge = max(p[:, 0].max(), p[:, -1].max(), p[-1].max())  # the u = 1 row is 0 by design
    wu = simpson_weights(u.size, u[1] - u[0])
    wm = simpson_weights(mu.size, mu[1] - mu[0])
    z = wu @ p @ wm
    p /= z
    out = {}
    # mu: marginal density, spline CDF, quantiles
    g = wu @ p
    cdf_mu = interpolate.CubicSpline(mu, g).antiderivative()

    def q_mu(prob):
        return optimize.brentq(lambda q: cdf_mu(q) - prob, mu_lo, mu_hi, xtol=1e-13)
    alpha = 0.5 * (1 - LEVEL)
    out["estimate"] = special.expit(q_mu(0.5))
    out["ci_low"] = special.expit(q_mu(alpha))
    out["ci_high"] = special.expit(q_mu(1 - alpha))
    out["prob_above"] = float(1.0 - cdf_mu(special.logit(THRESHOLD)))
    # tau: marginal density of u, spline CDF
    h = p @ wm
    cdf_u = interpolate.CubicSpline(u, h).antiderivative()
    for key, prob in (("tau_ci_low", alpha), ("tau_median", 0.5), ("tau_ci_high", 1 - alpha)):
        out[key] = float(tau_of_u(prior, optimize.brentq(lambda v, pr=prob: cdf_u(v) - pr,
                                                        0.0, u[-1], xtol=1e-14)))
    # predictive
    hmu = mu[1] - mu[0]
    splines = [interpolate.CubicSpline(mu, p[b]) for b in range(u.size)]
    cdfs = [s.antiderivative() for s in splines]

    zt, zw = np.polynomial.hermite_e.hermegauss(60)
    zw = zw / zw.sum()

    def pred_cdf(t):
        total = 0.0
        for b in range(u.size):
            if not finite[b]:
                continue
            if tau[b] > 8 * hmu:  # Phi((t - mu) / tau) resolved by the mu grid
                inner = (p[b] * special.ndtr((t - mu) / tau[b])) @ wm
            else:  # E[F(t - tau Z)], Z ~ N(0, 1), with the spline CDF of mu | tau
                inner = zw @ cdfs[b](np.clip(t - tau[b] * zt, mu_lo, mu_hi))
            total += wu[b] * inner
        return total
    lo, hi = mu_lo - 10 * tau[finite][-1] - 10, mu_hi + 10 * tau[finite][-1] + 10
    out["pi_low"] = special.expit(optimize.brentq(lambda t: pred_cdf(t) - alpha, lo, hi, xtol=1e-12))
    out["pi_high"] = special.expit(optimize.brentq(lambda t: pred_cdf(t) - 1 + alpha, lo, hi,
                                                   xtol=1e-12))
    return {k: float(v) for k, v in out.items()}, float(edge)


def large400():
    ref = json.loads((Path(__file__).parent / "metafor.json").read_text(encoding="utf-8"))
    d = ref["datasets"]["large400"]
    return d["events"], d["n"]


DATASETS = {
    "k1": ([7], [12]),
    "k2": ([3, 9], [10, 12]),
    "all0": ([0, 0, 0], [5, 10, 3]),
    "all100": ([5, 4, 12], [5, 4, 12]),
    "sparse": ([1, 0, 2, 0, 1], [12, 8, 20, 5, 9]),
    "largen": ([156, 243, 401, 97], [500, 800, 1300, 300]),
    "clearance": ([2, 3, 1, 17, 33, 0], [5, 4, 1, 22, 43, 1]),
    "k400": None,
}
PRIORS = {"hn0.5": ("half-normal", 0.5), "hn1": ("half-normal", 1.0), "hc0.5": ("half-cauchy", 0.5)}
# grids (tau x mu, coarse and fine) and box threshold where the defaults do not suit:
# k = 400 is concentrated and costly (328 distinct studies); largen (n up to 1300) has a
# narrow mu | tau near tau = 0 and a p(tau | y) that varies on the within-study scale.
SETTINGS = {"k400": (((61, 161), (91, 241)), 45.0),
            "largen": (((481, 1921), (721, 2881)), 30.0)}
EXTRA_PRIORS = {"k2": ("hn1", "hc0.5"), "sparse": ("hn1", "hc0.5"), "clearance": ("hn1", "hc0.5")}


def _write(out_path, cases):
    doc = {
        "source": {
            "script": "tests/reference/make_bayes_reference.py",
            "python": platform.python_version(),
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "note": "brute-force tensor-grid posteriors; see the script's docstring",
        },
        "datasets": {k: {"events": list(map(int, (large400() if v is None else v)[0])),
                         "n": list(map(int, (large400() if v is None else v)[1]))}
                     for k, v in DATASETS.items()},
        "cases": cases,
    }
    Path(out_path).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


def main(out_path: str, redo: str | None = None) -> int:
    """Write every case, saving after each one. Cases already in `out_path` are kept,
    except those whose id contains `redo` ("all" recomputes everything)."""
    path = Path(out_path)
    done = {}
    if path.exists() and redo != "all":
        done = {c["id"]: c for c in json.loads(path.read_text(encoding="utf-8"))["cases"]}
    cases = []
    for name, counts in DATASETS.items():
        x, n = large400() if counts is None else counts
        data = {"x": np.asarray(x, float), "n": np.asarray(n, float)}
        grids, keep_within = SETTINGS.get(name, (((161, 641), (241, 961)), 45.0))
        for prior_id in ("hn0.5", *EXTRA_PRIORS.get(name, ())):
            prior = PRIORS[prior_id]
            for model in ("binomial", "normal"):
                case_id = f"{name}/{model}/{prior_id}"
                if case_id in done and not (redo and redo in case_id):
                    cases.append(done[case_id])
                    continue
                box = locate(model, data, prior, keep_within)
                coarse, _ = posterior_summary(model, data, prior, *grids[0], box)
                fine, edge = posterior_summary(model, data, prior, *grids[1], box)
                err = max(abs(fine[k] - coarse[k]) for k in fine)
                cases.append({"id": case_id, "dataset": name, "likelihood": model,
                              "tau_prior": list(prior), "mu_prior": ["normal", *MU_PRIOR],
                              "confidence_level": LEVEL, "threshold": THRESHOLD,
                              "grid": list(grids[1]), "box": [float(b) for b in box],
                              "edge_density": edge, "grid_error": err, "values": fine})
                print(f"{name:10s} {model:8s} {prior_id:6s} grid error {err:.1e} "
                      f"edge {edge:.1e}", flush=True)
                _write(out_path, cases + [c for i, c in done.items()
                                          if i not in {d["id"] for d in cases}])
    _write(out_path, cases)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "tests/reference/bayes.json",
                  sys.argv[2] if len(sys.argv) > 2 else None))
