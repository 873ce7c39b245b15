"""Property-based fuzzing of the bad-input contract: mutated model files and input arrays.

Starting from a valid .kgen zip and a valid inputs array, hypothesis mutates them byte-wise (flips,
truncation, insertion) and structurally (members dropped, duplicated or replaced, circuit.json fields
changed, the parameter arrays' bytes flipped; arrays of other shapes, dtypes and values) and runs
`kgen info` and `kgen run` on them. Every time: exit 0 or 2 (never 1, never an exception), on 2
exactly one line on stderr and nothing written.
"""

from __future__ import annotations

import contextlib
import os
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgen.cli import main
from kgen.examples import random_circuit
from kgen.modelfile import Model

CIRCUIT = random_circuit(seed=11, n_nodes=3, n_windows=2, n_edges=6)
MODEL = Model(CIRCUIT).to_bytes()
INPUTS = np.random.default_rng(0).uniform(-1, 1, (2, CIRCUIT.n_data))
RUN = ["--method", "rk4", "--steps", "4"]  # a fixed-step solve: bounded time whatever the parameters


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return [(i.filename, zf.read(i)) for i in zf.infolist()]


def _zip(items, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with contextlib.suppress(Exception), zipfile.ZipFile(buf, "w", compression) as zf:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for name, data in items:
                zf.writestr(name, data)
    return buf.getvalue()


json_values = st.recursive(st.none() | st.booleans() | st.integers(-10**12, 10**12) |
                           st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                       max_size=3), max_leaves=6)


@st.composite
def byte_mutation(draw, data: bytes) -> bytes:
    kind = draw(st.sampled_from(["flip", "truncate", "insert"]))
    buf = bytearray(data)
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            k = draw(st.integers(0, len(buf) - 1))
            buf[k] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        del buf[draw(st.integers(0, len(buf) - 1)):]
    else:
        k = draw(st.integers(0, len(buf)))
        buf[k:k] = draw(st.binary(min_size=1, max_size=16))
    return bytes(buf)


@st.composite
def structural_mutation(draw, data: bytes) -> bytes:
    items = _members(data)
    kind = draw(st.sampled_from(["drop", "duplicate", "replace", "field", "params", "extra"]))
    if kind == "drop":
        del items[draw(st.integers(0, len(items) - 1))]
    elif kind == "duplicate":
        items.insert(draw(st.integers(0, len(items))), items[draw(st.integers(0, len(items) - 1))])
    elif kind == "replace":
        k = draw(st.integers(0, len(items) - 1))
        items[k] = (items[k][0], draw(st.binary(max_size=64)))
    elif kind == "field":
        meta = json.loads(items[0][1])
        key = draw(st.sampled_from(sorted(meta)))
        meta[key] = draw(json_values)
        items[0] = ("circuit.json", json.dumps(meta).encode())
    elif kind == "params":
        params = bytearray(items[1][1])
        for _ in range(draw(st.integers(1, 6))):
            k = draw(st.integers(0, len(params) - 1))
            params[k] = draw(st.integers(0, 255))
        items[1] = ("params.npz", bytes(params))
    else:
        name = draw(st.sampled_from(["quant.json", "hdl.json", "notes.txt"]))
        items.insert(-1, (name, json.dumps(draw(json_values)).encode()))
    return _zip(items)


models = st.one_of(st.just(MODEL), st.just(MODEL).flatmap(byte_mutation), st.just(MODEL).flatmap(structural_mutation))

dtypes = st.sampled_from([np.float64, np.float32, np.float16, np.int32, np.complex128, np.bool_])
shapes = st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple)
values = st.floats(allow_nan=True, allow_infinity=True, width=64)


@st.composite
def inputs(draw) -> bytes:
    kind = draw(st.sampled_from(["valid", "array", "bytes"]))
    if kind == "valid":
        arr = INPUTS * draw(st.floats(-1e6, 1e6, allow_nan=False))
    elif kind == "array":
        shape = draw(shapes)
        with np.errstate(all="ignore"):  # casting NaN or 1e308 to int16 is the point
            arr = np.full(shape, draw(values)).astype(draw(dtypes)) if shape else np.float64(draw(values))
    else:
        buf = io.BytesIO()
        np.save(buf, INPUTS)
        return draw(byte_mutation(buf.getvalue()))
    buf = io.BytesIO()
    with np.errstate(all="ignore"):
        np.save(buf, arr)
    return buf.getvalue()


def _cli(argv) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(argv)
    return rc, err.getvalue()


_COUNTER = iter(range(10**9))


@settings(max_examples=int(os.environ.get("KGEN_FUZZ_EXAMPLES", 500)), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(model=models, x=inputs())
def test_mutated_models_and_inputs_keep_the_contract(tmp_path_factory, model, x):
    work = tmp_path_factory.mktemp(f"fuzz{next(_COUNTER)}")
    m, xi, out = work / "m.kgen", work / "x.npy", work / "y.npy"
    m.write_bytes(model)
    xi.write_bytes(x)
    for argv in (["info", str(m)], ["run", str(m), "--inputs", str(xi), "-o", str(out), *RUN]):
        rc, err = _cli(argv)
        assert rc in (0, 2), (argv[0], rc, err)
        if rc == 2:
            lines = err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("kgen: error: "), err
            if argv[0] == "run":
                assert not out.exists()
        written = sorted(p.name for p in Path(work).iterdir())
        assert written in (["m.kgen", "x.npy"], ["m.kgen", "x.npy", "y.npy"]), written
        if out.exists():
            assert np.all(np.isfinite(np.load(out)))
            out.unlink()


@pytest.mark.parametrize("seed", range(3))
def test_the_unmutated_pair_runs(tmp_path, seed):
    Model(random_circuit(seed=seed, n_nodes=3, n_windows=2, n_edges=6)).save(tmp_path / "m.kgen")
    np.save(tmp_path / "x.npy", INPUTS)
    assert _cli(["run", str(tmp_path / "m.kgen"), "--inputs", str(tmp_path / "x.npy"), "-o",
                 str(tmp_path / "y.npy"), *RUN])[0] == 0
