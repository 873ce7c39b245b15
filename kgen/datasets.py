"""Data: the original's toy 2-D generators and potentials, digits, MNIST IDX files.

Nothing downloads: toy sets are generated (as in the original testbench.py,
seeded here), digits come bundled with scikit-learn, MNIST is read from IDX
files the user passes in.
"""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np

from .errors import InputError, UnsupportedError, expected_found

TOY_SETS = ("twomoon", "8gaussians", "pinwheel", "swissroll", "circle", "2spirals")
POTENTIALS = ("potential1", "potential2")


def toy_samples(name: str, n: int, seed: int = 0) -> np.ndarray:
    """n points (n, 2) from the original's generator `name`, reproducibly."""
    rng = np.random.RandomState(seed)
    if name == "twomoon":
        from sklearn.datasets import make_moons
        return make_moons(n_samples=n, noise=0.1, random_state=rng)[0]
    if name == "circle":
        from sklearn.datasets import make_circles
        return make_circles(n_samples=n, noise=0.06, factor=0.5, random_state=rng)[0]
    if name == "swissroll":
        from sklearn.datasets import make_swiss_roll
        return make_swiss_roll(n_samples=n, noise=1.0, random_state=rng)[0][:, [0, 2]] / 5.0
    if name == "2spirals":
        h = n // 2
        t = np.sqrt(rng.rand(h, 1)) * 540 * (2 * np.pi) / 360
        d1x = -np.cos(t) * t + rng.rand(h, 1) * 0.5
        d1y = np.sin(t) * t + rng.rand(h, 1) * 0.5
        x = np.vstack((np.hstack((d1x, d1y)), np.hstack((-d1x, -d1y)))) / 3
        return x + rng.randn(*x.shape) * 0.1
    if name == "pinwheel":
        radial_std, tangential_std, num_classes, rate = 0.3, 0.1, 5, 0.25
        per = n // num_classes
        rads = np.linspace(0, 2 * np.pi, num_classes, endpoint=False)
        features = rng.randn(num_classes * per, 2) * np.array([radial_std, tangential_std])
        features[:, 0] += 1.0
        labels = np.repeat(np.arange(num_classes), per)
        angles = rads[labels] + rate * np.exp(features[:, 0])
        rotations = np.stack([np.cos(angles), -np.sin(angles), np.sin(angles), np.cos(angles)])
        rotations = np.reshape(rotations.T, (-1, 2, 2))
        return 2 * rng.permutation(np.einsum("ti,tij->tj", features, rotations))
    if name == "8gaussians":
        s = 1.0 / np.sqrt(2)
        centers = 4.0 * np.array([(1, 0), (-1, 0), (0, 1), (0, -1), (s, s), (s, -s), (-s, s), (-s, -s)])
        points = rng.randn(n, 2) * 0.5 + centers[rng.randint(8, size=n)]
        return (points / 1.414).astype(np.float32).astype(np.float64)
    raise UnsupportedError(expected_found("toy data set", "one of " + ", ".join(TOY_SETS), repr(name)))


def potential(name: str, z):
    """The Rezende & Mohamed (2015) energies U1, U2 on (B, 2) points (NumPy or torch)."""
    lib = np if isinstance(z, np.ndarray) else __import__("torch")
    z1, z2 = z[:, 0], z[:, 1]
    if name == "potential1":
        norm = lib.sqrt(z1 * z1 + z2 * z2)
        t1 = 0.5 * ((norm - 2) / 0.4) ** 2
        return t1 - lib.log(lib.exp(-0.5 * ((z1 - 2) / 0.6) ** 2) + lib.exp(-0.5 * ((z1 + 2) / 0.6) ** 2))
    if name == "potential2":
        w1 = lib.sin(2 * math.pi * z1 / 4)
        return 0.5 * ((z2 - w1) / 0.4) ** 2
    raise UnsupportedError(expected_found("potential", "potential1 or potential2", repr(name)))


def digits(seed: int = 0, test_fraction: float = 0.25):
    """scikit-learn's bundled 8x8 digits scaled to [0, 1]: (x_train, y_train, x_test, y_test)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x, y = data.data / 16.0, data.target.astype(np.int64)
    order = np.random.RandomState(seed).permutation(len(x))
    cut = int(len(x) * (1 - test_fraction))
    tr, te = order[:cut], order[cut:]
    return x[tr], y[tr], x[te], y[te]


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (MNIST format, optionally gzipped) as a NumPy array."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(expected_found("IDX file", "an existing file", f"no file {path}")) from None
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    dtypes = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in dtypes:
        raise InputError(expected_found(f"IDX file {path}", "an IDX header (0, 0, type, ndim)", repr(raw[:4])))
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(dtypes[raw[2]])
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)) * dtype.itemsize:
        raise InputError(expected_found(f"IDX file {path}", f"{int(np.prod(shape)) * dtype.itemsize} data bytes "
                                                             f"for shape {shape}", f"{len(body)}"))
    return np.frombuffer(body, dtype=dtype).reshape(shape)
