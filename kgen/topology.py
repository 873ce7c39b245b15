"""Topology generators that reproduce the original KirchhoffNet edge order exactly.

Each generator returns (src, des) int64 arrays in the order the original
emits its edges, because checkpoint parameter columns follow that order.
Image topologies number pixels as the original does: arange reshaped to
(channel, width, height), windows read by torch's unfold.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError, UnsupportedError, expected_found


def _pairs(edges: list[tuple[int, int]] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    arr = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0].copy(), arr[:, 1].copy()


def fully_connect(num_node: int, include_gnd: bool = True, repeat=(1, 1)):
    """Every ordered pair (i, j), i != j: repeat[0] edges i->j then repeat[1] edges j->i."""
    lo, hi = (0, num_node) if include_gnd else (1, num_node + 1)
    edges = []
    for i in range(lo, hi):
        for j in range(lo, hi):
            if i != j:
                edges += [(i, j)] * repeat[0] + [(j, i)] * repeat[1]
    return _pairs(edges)


def simple_connect(num_node: int, include_gnd: bool = True, repeat=(1, 1)):
    """A chain i -> i+1 (repeat[0] times each); the original ignores repeat[1]."""
    lo, hi = (0, num_node) if include_gnd else (1, num_node + 1)
    return _pairs([(i, i + 1) for i in range(lo, hi) for _ in range(repeat[0])])


def _unfold_windows(num_channel: int, width: int, height: int, k: int, padding: bool) -> np.ndarray:
    """Node numbers (1-based, 0 = padding) of every k x k window: shape (C*k*k, L).

    Equivalent to torch.nn.functional.unfold on arange(1, 1+C*W*H) reshaped to
    (1, C, W, H) with stride 1: rows are (channel, ky, kx), columns run over
    window positions row-major.
    """
    pad = k - 1 if padding else 0
    grid = np.zeros((num_channel, width + 2 * pad, height + 2 * pad), dtype=np.int64)
    grid[:, pad:pad + width, pad:pad + height] = np.arange(1, 1 + num_channel * width * height).reshape(
        num_channel, width, height)
    out_w, out_h = width + 2 * pad - k + 1, height + 2 * pad - k + 1
    if out_w < 1 or out_h < 1:
        raise InputError(expected_found("neighbor_size", f"at most {min(width, height)}", str(k)))
    rows = []
    for c in range(num_channel):
        for ky in range(k):
            for kx in range(k):
                rows.append(grid[c, ky:ky + out_w, kx:kx + out_h].reshape(-1))
    return np.stack(rows)


def neighbor(num_channel: int, width: int, height: int, neighbor_size: int, padding: bool = False,
             repeat: int = 1, sharing: bool = False, parallel: int = 1):
    """Every ordered pair of distinct pixels inside each k x k window (repeat copies each).

    `sharing` only changes the original's parameter-index column, which its
    circuit layer ignores, so the edges are the same either way. `parallel`
    appends copies of the whole pattern shifted by the largest node index.
    """
    del sharing
    tmp = _unfold_windows(num_channel, width, height, neighbor_size, padding)
    kk = tmp.shape[0]
    j_idx, k_idx = np.meshgrid(np.arange(kk), np.arange(kk), indexing="ij")
    off = j_idx != k_idx
    src = tmp[j_idx[off]].T  # (L, P): window-major, then j, then k
    des = tmp[k_idx[off]].T
    keep = (src != 0) & (des != 0)
    src, des = src[keep], des[keep]
    src, des = np.repeat(src, repeat), np.repeat(des, repeat)
    if parallel > 1:
        incr = int(max(src.max(), des.max()))
        src = np.concatenate([src + incr * i for i in range(parallel)])
        des = np.concatenate([des + incr * i for i in range(parallel)])
    return src.astype(np.int64), des.astype(np.int64)


def mix_connect(num_channel: int, width: int, height: int, neighbor_size: int, fully_connect_node: int,
                repeat=(1, 0), padding: bool = False, kernel_repeat: int = 1, sharing: bool = False,
                parallel: int = 1):
    """neighbor + edges between every pixel and ground + F hidden nodes tied to ground and every pixel."""
    src, des = neighbor(num_channel, width, height, neighbor_size, padding, kernel_repeat, sharing, parallel)
    max_node = int(max(src.max(), des.max()))
    nodes = np.arange(1, max_node + 1)
    ground = np.zeros_like(nodes)
    r0, r1 = repeat
    # per pixel: r0 edges node->0 then r1 edges 0->node
    g_src = np.concatenate([np.repeat(nodes[:, None], r0, 1), np.repeat(ground[:, None], r1, 1)], 1).reshape(-1)
    g_des = np.concatenate([np.repeat(ground[:, None], r0, 1), np.repeat(nodes[:, None], r1, 1)], 1).reshape(-1)
    f_src, f_des = [], []
    others = np.arange(0, max_node + 1)
    for node in range(max_node + 1, max_node + 1 + fully_connect_node):
        me = np.full_like(others, node)
        f_src.append(np.concatenate([np.repeat(others[:, None], r0, 1), np.repeat(me[:, None], r1, 1)], 1).reshape(-1))
        f_des.append(np.concatenate([np.repeat(me[:, None], r0, 1), np.repeat(others[:, None], r1, 1)], 1).reshape(-1))
    return (np.concatenate([src, g_src] + f_src).astype(np.int64),
            np.concatenate([des, g_des] + f_des).astype(np.int64))


def edge_list(edges):
    """An explicit list of (src, des) pairs."""
    arr = np.asarray(edges)
    if arr.ndim != 2 or arr.shape[1] < 2 or arr.shape[0] == 0:
        raise InputError(expected_found("edge list", "a non-empty list of (src, des) pairs", f"shape {arr.shape}"))
    return arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64)


GENERATORS = {
    "fully_connect": fully_connect,
    "simple_connect": simple_connect,
    "neighbor": neighbor,
    "neighbor_index": neighbor,
    "mix_connect": mix_connect,
    "edge_list": edge_list,
}


def generate(name: str, args: dict) -> tuple[np.ndarray, np.ndarray]:
    """Run a generator by its (original or kgen) name with keyword arguments."""
    key = name.lstrip("_")
    if key not in GENERATORS:
        raise UnsupportedError(expected_found("topology", "one of " + ", ".join(sorted(GENERATORS)), repr(name)))
    try:
        src, des = GENERATORS[key](**args)
    except TypeError as exc:
        raise InputError(expected_found(f"arguments of topology {name}", "the generator's parameters", str(exc))) from None
    if src.size == 0:
        raise InputError(expected_found(f"topology {name}", "at least one edge", "an empty edge list"))
    return src, des
