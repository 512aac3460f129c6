"""Time generate_phantom for a 64x256x256 grid over a few seeds, against a same-run baseline.

Baseline: allocate a float32 array of the same size and Gaussian-filter it once (sigma 1 voxel), i.e. the cost
of one full-volume smoothing pass on this machine. Usage: python benchmarks/bench_phantom.py [--seeds 5]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from liverlesion.phantom import generate_phantom
from scipy import ndimage

SHAPE = (64, 256, 256)


def baseline_seconds() -> float:
    start = time.perf_counter()
    array = np.random.default_rng(0).standard_normal(SHAPE, dtype=np.float32)
    ndimage.gaussian_filter(array, 1.0)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    generate_phantom(0, shape=(16, 64, 64))  # warm imports
    base = min(baseline_seconds() for _ in range(3))
    times = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        phantom = generate_phantom(seed, shape=SHAPE)
        times.append(time.perf_counter() - start)
        print(f"seed {seed}: {times[-1]:.3f} s, {len(phantom.lesions)} lesions, spacing "
              f"{phantom.ct.spacing[0]:.2f}/{phantom.ct.spacing[2]:.2f} mm")
    median = float(np.median(times))
    print(f"generate_phantom {SHAPE}: median {median:.3f} s, max {max(times):.3f} s (budget 2 s); "
          f"baseline alloc+gaussian {base:.3f} s; ratio {median / base:.1f}x")


if __name__ == "__main__":
    main()
