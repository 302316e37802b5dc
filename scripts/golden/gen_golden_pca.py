#!/usr/bin/python3
"""Writes the NumPy reference values of deepc's PCA (dc_pca_fit and friends), which
tests/test_pca.c checks.

Usage: /usr/bin/python3 scripts/golden/gen_golden_pca.py [OUT_DIR]   (default tests/golden/pca).
Needs only NumPy.

The file format is gen_golden.py's (tests/golden/README.md). Each case draws its data from
numpy.random.default_rng(crc32(case name)) in float32, so deepc reads exactly the same numbers,
and computes the reference in float64 the way scikit-learn's PCA does (full SVD of the centred
rows): mean_, components_ (rows by falling singular value), explained_variance_ = s^2 / (N - 1),
explained_variance_ratio_, noise_variance_ (the mean of the other min(N, D) - k variances), and
the reconstruction (x - mean) C^T C + mean of held-out rows. Stored:
  cfg = [k], x [N, ...], x_test [M, ...], mean [D], components [k, D], explained_variance [k],
  explained_variance_ratio [k], noise_variance [1], z_test [M, k] (signs as the SVD gives them),
  recon_test [M, D].
The test compares components and z_test up to each component's sign.
"""

import os
import sys
import zlib

import numpy as np


def fmt(a):
    return " ".join("%.9g" % v for v in np.asarray(a, dtype=np.float64).reshape(-1))


class Writer:
    def __init__(self, out_dir, name, seed, what):
        self.path = os.path.join(out_dir, name + ".txt")
        self.lines = [
            "# deepc golden case %s: %s" % (name, what),
            "# made by scripts/golden/%s with NumPy %s, numpy.random.default_rng(%d)"
            % (os.path.basename(sys.argv[0]), np.__version__, seed),
        ]

    def put(self, name, a):
        a = np.asarray(a, dtype=np.float64)
        shape = list(a.shape) if a.ndim > 0 else [1]
        self.lines.append("%s %d %s" % (name, len(shape), " ".join(str(d) for d in shape)))
        self.lines.append(fmt(a))

    def close(self):
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        os.replace(tmp, self.path)


def draw(rng, n, feat_shape, scales, noise):
    """Rows with a low-rank signal along random directions (variances scales^2) plus noise."""
    d = int(np.prod(feat_shape))
    basis, _ = np.linalg.qr(rng.standard_normal((d, len(scales))))
    offset = rng.standard_normal(d)
    x = rng.standard_normal((n, len(scales))) * np.asarray(scales) @ basis.T + offset + noise * rng.standard_normal((n, d))
    return x.astype(np.float32).astype(np.float64).reshape((n,) + tuple(feat_shape))


def case(out_dir, name, n, m, feat_shape, k, scales, noise, what):
    seed = zlib.crc32(name.encode("ascii"))
    rng = np.random.default_rng(seed)
    x = draw(rng, n + m, feat_shape, scales, noise)
    x, x_test = x[:n], x[n:]
    xf = x.reshape(n, -1)
    xt = x_test.reshape(m, -1)
    mean = xf.mean(axis=0)
    _, s, vt = np.linalg.svd(xf - mean, full_matrices=False)
    var = s ** 2 / (n - 1)
    total = var.sum()
    comp = vt[:k]
    z = (xt - mean) @ comp.T
    recon = z @ comp + mean
    rest = var[k:min(n, xf.shape[1])]
    w = Writer(out_dir, name, seed, what)
    w.put("cfg", np.array([k]))
    w.put("x", x)
    w.put("x_test", x_test)
    w.put("mean", mean)
    w.put("components", comp)
    w.put("explained_variance", var[:k])
    w.put("explained_variance_ratio", var[:k] / total)
    w.put("noise_variance", np.array([rest.mean() if rest.size else 0.0]))
    w.put("z_test", z)
    w.put("recon_test", recon)
    w.close()


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join("tests", "golden", "pca")
    os.makedirs(out_dir, exist_ok=True)
    case(out_dir, "pca_lowrank", 300, 40, (20,), 5, [5, 4, 3, 2, 1.5], 0.1,
         "300 rows of 20 features, a rank-5 signal plus noise; k 5")
    case(out_dir, "pca_partial", 200, 30, (16,), 3, [6, 4, 3, 2.5, 2, 1], 0.2,
         "200 rows of 16 features, k 3 of a rank-6 signal (reconstruction loses the rest)")
    case(out_dir, "pca_wide", 10, 6, (40,), 9, [9, 8, 7, 6, 5, 4, 3, 2, 1, 0.5], 0.01,
         "10 rows of 40 features (fewer rows than features), k 9 = rows - 1")
    case(out_dir, "pca_full", 50, 10, (8,), 8, [4, 3, 2, 1], 0.5,
         "50 rows of 8 features, k 8 = all: the reconstruction is the input")
    case(out_dir, "pca_images", 60, 12, (1, 4, 5), 3, [3, 2, 1], 0.1,
         "60 images [1, 4, 5], k 3: rows are the images' 20 pixels")


if __name__ == "__main__":
    main()
