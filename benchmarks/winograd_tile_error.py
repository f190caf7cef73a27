"""Float32 error of Winograd F(m x m, 3x3) tiles, simulated in numpy: which tile sizes and
interpolation points the CPU engine could use (issues 15 and 29). F(2x2, 3x3) and F(4x4, 3x3)
on the points (0, 1, -1, 2, -1/2), the best of the sets below, are implemented
(csrc/cpu/winograd_conv.h, DYCONV_CPU_ENGINE=winograd and winograd4).

Per case: the forward convolution of a 96->96 layer on a 146x146 map (float32 transforms and
products, float64 reference): the error against the largest output (the op tests' measure) and
the 99.9th percentile of the per-element relative error; and kappa, the tile's rounding-error
gain (tests/test_kernels_winograd.py, conditioning: 3 for direct convolution), which the first
measure follows within a factor of about 1.6. Inputs standard normal ("randn"), then also scaled
element-wise by 10^u, u uniform in [-3, 3] ("range1e6"). The matrices come from the points by
the Toom-Cook construction (A^T and G exact; B^T solved from the convolution identity).

    python -m benchmarks.winograd_tile_error
"""
from __future__ import annotations

import argparse
from fractions import Fraction as Fr

import numpy as np

# name -> (finite interpolation points, output tile m); infinity is the last point of each.
CASES = {
    "F2 (0,1,-1)": ([0, 1, -1], 2),
    "F3 (0,1,-1,2)": ([0, 1, -1, 2], 3),
    "F3 (0,1,-1,1/2)": ([0, 1, -1, Fr(1, 2)], 3),
    "F4 (0,1,-1,2,-2)": ([0, 1, -1, 2, -2], 4),
    "F4 (0,1,-1,1/2,-2)": ([0, 1, -1, Fr(1, 2), -2], 4),
    "F4 (0,1,-1,1/2,-1/2)": ([0, 1, -1, Fr(1, 2), Fr(-1, 2)], 4),
    "F4 (0,1,-1,2,-1/2)": ([0, 1, -1, 2, Fr(-1, 2)], 4),  # the engine's: the mirror image of (0,1,-1,1/2,-2)
    "F4 (0,1,-1,3/2,-1/2)": ([0, 1, -1, Fr(3, 2), Fr(-1, 2)], 4),
    "F4 (0,1,-1,2,-1/3)": ([0, 1, -1, 2, Fr(-1, 3)], 4),
    "F4 (0,1,-1,2,-3/4)": ([0, 1, -1, 2, Fr(-3, 4)], 4),
    "F4 (0,1,-1,1/2,-1/4)": ([0, 1, -1, Fr(1, 2), Fr(-1, 4)], 4),
}


def toom_cook(points, m: int, r: int = 3):
    """A^T (m, n), G (n, r), B^T (n, n) of F(m, r), n = m + r - 1, from n - 1 finite points and infinity."""
    n = m + r - 1
    p = [Fr(x) for x in points]
    assert len(p) == n - 1
    at = [[p[j] ** i for j in range(n - 1)] + [Fr(int(i == m - 1))] for i in range(m)]
    f = [np.prod([p[j] - p[k] for k in range(n - 1) if k != j]) for j in range(n - 1)]
    g = [[p[j] ** k / f[j] for k in range(r)] for j in range(n - 1)] + [[Fr(0)] * (r - 1) + [Fr(1)]]
    # B^T from sum_a A^T[i, a] G[a, k] B^T[a, j] = [j == i + k] for all i, k, j: a linear system.
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for j in range(n):
                coef = np.zeros((n, n))
                coef[:, j] = [float(at[i][a] * g[a][k]) for a in range(n)]
                rows.append(coef.ravel())
                rhs.append(float(j == i + k))
    bt = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0].reshape(n, n)
    bt[np.abs(bt) < 1e-12] = 0
    return np.array(at, float), np.array(g, float), bt


def kappa(at, g, bt) -> float:
    """max over outputs i of sum over elements e of (A^T[i, e] |G[e]| |B^T[e]|)^2, squared for 2-D."""
    weight = np.linalg.norm(g, axis=1) * np.linalg.norm(bt, axis=1)
    return float(np.sqrt(((at * weight) ** 2).sum(1)).max() ** 2)


def winograd(x, w, at, g, bt, dt=np.float32):
    """Valid 3x3 correlation of x (Cin, H, W) with w (Cout, Cin, 3, 3) by F(m x m, 3x3) tiles in dtype dt."""
    m, a = at.shape
    cin, h, wd = x.shape
    th, tw = (h - 2) // m, (wd - 2) // m
    x, at, g, bt = x.astype(dt), at.astype(dt), g.astype(dt), bt.astype(dt)
    u = np.einsum("ai,ocij,bj->aboc", g, w.astype(dt), g)
    patches = np.stack([np.stack([x[:, i * m:i * m + a, j * m:j * m + a] for j in range(tw)], 1)
                        for i in range(th)], 1)  # (Cin, th, tw, a, a)
    v = np.einsum("ak,ctwkl,bl->abctw", bt, patches, bt).reshape(a, a, cin, th * tw)
    y = np.einsum("ia,abot,jb->otij", at, np.matmul(u, v), at)
    return y.reshape(-1, th, tw, m, m).transpose(0, 1, 3, 2, 4).reshape(-1, th * m, tw * m)


def direct(x, w, dt=np.float64):
    _, h, wd = x.shape
    y = np.zeros((w.shape[0], h - 2, wd - 2), dt)
    for i in range(3):
        for j in range(3):
            y += np.einsum("oc,chw->ohw", w[:, :, i, j].astype(dt), x[:, i:i + h - 2, j:j + wd - 2].astype(dt))
    return y


def errors(y, ref) -> str:
    e = np.abs(y - ref)
    per_element = np.quantile(e / (np.abs(ref) + 1e-30), 0.999)
    return f"max-rel {e.max() / np.abs(ref).max():.2e}  element 99.9% {per_element:.2e}"


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    rng = np.random.default_rng(0)
    size, c = 12 * 12 + 2, 96  # outputs divisible by 2, 3 and 4
    for inputs in ("randn", "range1e6"):
        x = rng.standard_normal((c, size, size))
        w = rng.standard_normal((c, c, 3, 3)) / np.sqrt(9 * c)
        if inputs == "range1e6":
            x *= 10 ** rng.uniform(-3, 3, x.shape)
            w *= 10 ** rng.uniform(-3, 3, w.shape)
        ref = direct(x, w)
        print(f"{inputs:9s} {'direct, float32':22s} {errors(direct(x, w, np.float32), ref)}  kappa 3.0")
        for name, (points, m) in CASES.items():
            mats = toom_cook(points, m)
            print(f"{inputs:9s} {name:22s} {errors(winograd(x, w, *mats), ref)}  kappa {kappa(*mats):.1f}", flush=True)


if __name__ == "__main__":
    main()
