#!/usr/bin/python3
"""Writes the reference values of the Frechet distance (dc_frechet_distance, src/data/frechet.c)
that tests/test_frechet.c checks.

Usage: /usr/bin/python3 scripts/golden/gen_golden_frechet.py [OUT_DIR]   (default tests/golden/frechet)
Needs only NumPy (python3-numpy).

Each case draws two sets of feature vectors a [N, D] and b [M, D] with its own seed
(numpy.random.default_rng(crc32(case name))), rounded to float32 so that deepc reads exactly the
same numbers (written with 9 significant digits, which float32 reads back exactly), and stores
them with the distance
    d = |mu_a - mu_b|^2 + Tr(Sa) + Tr(Sb) - 2 Tr (Sa Sb)^(1/2)
computed in float64 by another route than deepc's: the covariances by numpy.cov, and the trace
of the square root as the sum of the square roots of the eigenvalues of the non-symmetric product
Sa Sb (numpy.linalg.eigvals, LAPACK's dgeev), whose eigenvalues are those of the symmetric
Sa^(1/2) Sb Sa^(1/2). For full-rank cases the script checks that trace against the square root of
Sa Sb by the Denman-Beavers iteration (what scipy.linalg.sqrtm would give) and stops if they
differ. The file format is that of tests/golden/README.md ("name ndim dims" then the values).
"""

import os
import sys
import zlib

import numpy as np


def seed_for(name):
    return zlib.crc32(name.encode("ascii"))


def trace_sqrt_eig(sa, sb):
    lam = np.linalg.eigvals(sa @ sb)
    return float(np.sum(np.sqrt(np.clip(lam.real, 0, None))))


def trace_sqrt_db(sa, sb, iters=100):
    """Denman-Beavers iteration for the principal square root of Sa Sb."""
    y = sa @ sb
    z = np.eye(y.shape[0])
    for _ in range(iters):
        y, z = 0.5 * (y + np.linalg.inv(z)), 0.5 * (z + np.linalg.inv(y))
    return float(np.trace(y))


def frechet(a, b, check_db):
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    sa, sb = np.atleast_2d(sa), np.atleast_2d(sb)
    tr = trace_sqrt_eig(sa, sb)
    if check_db:
        tr_db = trace_sqrt_db(sa, sb)
        if abs(tr - tr_db) > 1e-9 * max(1.0, abs(tr)):
            sys.exit("trace of the square root: eigvals %r, Denman-Beavers %r" % (tr, tr_db))
    d = float(np.sum((mu_a - mu_b) ** 2) + np.trace(sa) + np.trace(sb) - 2 * tr)
    return max(d, 0.0)


def f32(x):
    return x.astype(np.float32).astype(np.float64)


def fmt(x, digits):
    return " ".join("%.*g" % (digits, v) for v in np.asarray(x, dtype=np.float64).reshape(-1))


def write(out_dir, name, what, tensors):
    lines = ["# deepc golden case %s: %s" % (name, what),
             "# made by scripts/golden/%s with NumPy %s, numpy.random.default_rng(%d)"
             % (os.path.basename(sys.argv[0]), np.__version__, seed_for(name))]
    for nm, t, digits in tensors:
        t = np.asarray(t, dtype=np.float64)
        shape = list(t.shape) if t.ndim else [1]
        lines.append("%s %d %s" % (nm, len(shape), " ".join(str(s) for s in shape)))
        lines.append(fmt(t, digits))
    path = os.path.join(out_dir, name + ".txt")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)


def correlated(rng, n, d, scale, shift):
    """n rows of N(shift, L L^T) with a random mixing L: a full covariance."""
    mix = scale * rng.standard_normal((d, d)) / np.sqrt(d)
    return f32(rng.standard_normal((n, d)) @ mix + shift)


def same_gaussian(rng, n, m, d):
    """Two sets of rows from one N(0.2, L L^T)."""
    mix = rng.standard_normal((d, d)) / np.sqrt(d)
    return f32(rng.standard_normal((n, d)) @ mix + 0.2), f32(rng.standard_normal((m, d)) @ mix + 0.2)


def case(out_dir, name, what, draw, check_db=True):
    rng = np.random.default_rng(seed_for(name))
    a, b = draw(rng)
    d = frechet(a, b, check_db)
    write(out_dir, name, what, [("a", a, 9), ("b", b, 9), ("d", np.array([d]), 17)])
    print("%s: a %s, b %s, d = %.12g" % (name, list(a.shape), list(b.shape), d))


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/frechet"
    os.makedirs(out_dir, exist_ok=True)
    case(out_dir, "frechet_full_d4", "a [50, 4], b [40, 4], full covariances, means apart",
         lambda r: (correlated(r, 50, 4, 1.0, 0.0), correlated(r, 40, 4, 2.0, 0.5)))
    case(out_dir, "frechet_full_d16", "a [120, 16], b [100, 16], full covariances",
         lambda r: (correlated(r, 120, 16, 1.5, 1.0), correlated(r, 100, 16, 0.7, -0.3)))
    case(out_dir, "frechet_close_d8", "a [200, 8], b [150, 8] from one Gaussian (a small distance)",
         lambda r: same_gaussian(r, 200, 150, 8))
    # fewer rows than features: both covariances singular (rank 3 and 4), square roots of zeros
    case(out_dir, "frechet_singular_d6", "a [4, 6], b [5, 6]: rank-deficient covariances",
         lambda r: (f32(r.standard_normal((4, 6))), f32(2 * r.standard_normal((5, 6)) + 1)), check_db=False)
    case(out_dir, "frechet_d1", "a [30, 1], b [20, 1]: one feature, (mu_a - mu_b)^2 + (sd_a - sd_b)^2",
         lambda r: (f32(r.standard_normal((30, 1))), f32(3 * r.standard_normal((20, 1)) - 1)))


if __name__ == "__main__":
    main()
