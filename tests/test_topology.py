"""Topology generators reproduce the original edge order exactly."""

import numpy as np
import pytest
import torch

from kgen import topology as T
from kgen.errors import UnsupportedError


def original_neighbor(num_channel, width, height, neighbor_size, padding=False, repeat=1):
    """A literal port of the original _neighbor_index (torch unfold), the oracle."""
    wrk = torch.arange(1, 1 + num_channel * width * height).reshape(num_channel, width, height).unsqueeze(0).float()
    tmp = torch.nn.functional.unfold(wrk, kernel_size=neighbor_size,
                                     padding=0 if not padding else (neighbor_size - 1), stride=1)
    out = []
    for i in range(tmp.shape[2]):
        for j in range(tmp.shape[1]):
            for k in range(tmp.shape[1]):
                if j != k and int(tmp[0, j, i]) != 0 and int(tmp[0, k, i]) != 0:
                    out += [[int(tmp[0, j, i]), int(tmp[0, k, i])]] * repeat
    return np.array(out)


@pytest.mark.parametrize("args", [(1, 5, 4, 3, False, 1), (2, 4, 5, 2, True, 2), (1, 6, 6, 4, False, 1),
                                  (3, 3, 7, 3, True, 1)])
def test_neighbor_matches_unfold_port(args):
    want = original_neighbor(*args)
    src, des = T.neighbor(*args)
    np.testing.assert_array_equal(src, want[:, 0])
    np.testing.assert_array_equal(des, want[:, 1])


def test_non_square_image_uses_channel_width_height_order():
    # width 2, height 3: pixels numbered along height first, so a 2x2 window at
    # the origin holds nodes 1, 2 (height neighbours) and 4, 5
    src, des = T.neighbor(1, 2, 3, 2)
    assert list(zip(src[:3], des[:3])) == [(1, 2), (1, 4), (1, 5)]


def test_fully_connect_order_and_count():
    src, des = T.fully_connect(3, repeat=[2, 1])
    pairs = list(zip(src.tolist(), des.tolist()))
    assert pairs[:6] == [(0, 1), (0, 1), (1, 0), (0, 2), (0, 2), (2, 0)]
    assert len(pairs) == 6 * 3
    assert len(T.fully_connect(3, repeat=[25, 25])[0]) == 300
    assert len(T.fully_connect(3, repeat=[10, 10])[0]) == 120
    s, d = T.fully_connect(2, include_gnd=False)
    assert list(zip(s, d)) == [(1, 2), (2, 1), (2, 1), (1, 2)]


def test_simple_connect_chain():
    s, d = T.simple_connect(3, repeat=[2, 5])
    assert list(zip(s.tolist(), d.tolist())) == [(0, 1), (0, 1), (1, 2), (1, 2), (2, 3), (2, 3)]


def test_mix_connect_mnist_layout():
    src, des = T.mix_connect(1, 28, 28, 4, 50, [1, 1])
    assert src.size == 230068
    n_nb = 25 * 25 * 16 * 15
    # ground edges: per pixel node->0 then 0->node
    assert (src[n_nb], des[n_nb], src[n_nb + 1], des[n_nb + 1]) == (1, 0, 0, 1)
    # hidden node 785 ties to ground then every pixel, both directions
    first = n_nb + 2 * 784
    assert list(zip(src[first:first + 4], des[first:first + 4])) == [(0, 785), (785, 0), (1, 785), (785, 1)]
    assert max(src.max(), des.max()) == 834


def test_parallel_copies_shift_by_max_node():
    s1, d1 = T.neighbor(1, 3, 3, 2)
    s2, d2 = T.neighbor(1, 3, 3, 2, parallel=2)
    np.testing.assert_array_equal(s2, np.concatenate([s1, s1 + 9]))
    np.testing.assert_array_equal(d2, np.concatenate([d1, d1 + 9]))


def test_unknown_topology():
    with pytest.raises(UnsupportedError, match=r"^topology: expected one of .*found '_pregiven'$"):
        T.generate("_pregiven", {})
