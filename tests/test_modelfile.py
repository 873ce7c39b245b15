"""The model file: deterministic, round-trips exactly, digest names the content."""

import zipfile

import numpy as np
import pytest

from kgen.circuit import Circuit, Window
from kgen.errors import CircuitError, InputError
from kgen.examples import random_circuit
from kgen.modelfile import circuit_digest, load_model, model_bytes, save_model


def test_save_load_save_is_byte_identical(tmp_path):
    c = random_circuit(seed=3)
    save_model(c, tmp_path / "a.kgen")
    back = load_model(tmp_path / "a.kgen").circuit
    save_model(back, tmp_path / "b.kgen")
    assert (tmp_path / "a.kgen").read_bytes() == (tmp_path / "b.kgen").read_bytes()
    assert circuit_digest(back) == circuit_digest(c)
    for a, b in zip(c.windows, back.windows):
        np.testing.assert_array_equal(a.params, b.params)
        np.testing.assert_array_equal(a.edges, b.edges)


def test_members_have_fixed_order_and_timestamps():
    data = model_bytes(random_circuit(seed=1), extra={"quant.json": b"{}"})
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == ["circuit.json", "params.npz", "quant.json", "DIGEST"]
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_digest_changes_with_any_parameter():
    c = random_circuit(seed=1)
    params = c.windows[1].params.copy()
    params[0, 0] = np.nextafter(params[0, 0], np.inf)
    from dataclasses import replace

    w = replace(c.windows[1], params=params)
    c2 = replace(c, windows=(c.windows[0], w) + c.windows[2:])
    assert circuit_digest(c2) != circuit_digest(c)


def test_corrupted_member_is_detected(tmp_path):
    c = random_circuit(seed=1)
    data = model_bytes(c)
    path = tmp_path / "m.kgen"
    # rewrite DIGEST with a wrong value
    import io

    src = zipfile.ZipFile(io.BytesIO(data))
    with zipfile.ZipFile(path, "w") as zf:
        for info in src.infolist():
            zf.writestr(info, b"0" * 64 + b"\n" if info.filename == "DIGEST" else src.read(info))
    with pytest.raises(InputError, match=r"expected digest 000000000000, found different content \(corrupted\)$"):
        load_model(path)


def test_not_a_zip(tmp_path):
    path = tmp_path / "m.kgen"
    path.write_text("hello")
    with pytest.raises(InputError, match=r"^model file .*m.kgen: expected a kgen model zip, found File is not a zip file$"):
        load_model(path)


def _one_window(**over):
    base = dict(n_nodes=2, capacitance=[1.0, 1.0], src=[0, 1], des=[1, 2], kinds=("Conductance",), edge_kind=[0, 0],
                windows=(Window(0.0, 1.0, [0, 1], np.ones((3, 2))),), inputs=(1,), outputs=(2,))
    base.update(over)
    return Circuit(**base)


@pytest.mark.parametrize("over,message", [
    (dict(src=[0, 3]), r"^edge source of edge 1: expected a node index in 0..2, found 3$"),
    (dict(des=[1, 1], src=[1, 0]), r"^edge 0: expected two different terminals, found both ends at node 1$"),
    (dict(src=[], des=[], edge_kind=[], windows=(Window(0, 1, [], np.ones((3, 0))),)),
     r"^edge list: expected at least one edge, found an empty edge list$"),
    (dict(windows=(Window(0.0, 1.0, [0, 1], np.array([[1.0, np.nan], [0, 0], [0, 0]])),)),
     r"^window 0 parameter row 0 of edge 1: expected a finite number, found nan$"),
    (dict(capacitance=[1.0, 0.0]), r"^capacitance: expected finite positive values"),
    (dict(outputs=(3,)), r"^output nodes: expected distinct node indices in 1..2"),
    (dict(windows=(Window(0.0, 1.0, [0, 1], np.ones((2, 2))),)),
     r"^window 0 parameters: expected shape \(3, 2\), found \(2, 2\)$"),
    (dict(windows=(Window(0.0, 1.0, [0, 1], np.ones((3, 2))), Window(1.5, 2.0, [0], np.ones((3, 1))))),
     r"^window 1 start: expected 1.0 \(previous end\), found 1.5$"),
])
def test_invalid_circuits_are_rejected(over, message):
    with pytest.raises(CircuitError, match=message):
        _one_window(**over)


def test_circuit_arrays_are_read_only():
    c = random_circuit(seed=1)
    with pytest.raises(ValueError):
        c.src[0] = 1
    with pytest.raises(ValueError):
        c.windows[0].params[0, 0] = 1.0


def test_a_model_keeps_its_sections_and_other_members(tmp_path):
    from kgen.modelfile import Model
    from kgen.quant import HdlChoices, QuantConfig, Storage

    c = random_circuit(seed=2)
    m = Model(c, QuantConfig(steps=(5, 6, 7)), HdlChoices(lanes=4, units=2, storage=Storage.RAM),
              members=(("notes.txt", b"kept"),))
    m.save(tmp_path / "a.kgen")
    back = load_model(tmp_path / "a.kgen")
    assert back.quant.steps == (5, 6, 7) and (back.hdl.lanes, back.hdl.units, back.hdl.storage) == (4, 2, Storage.RAM)
    assert dict(back.members) == {"notes.txt": b"kept"} and back.path == tmp_path / "a.kgen"
    back.save(tmp_path / "b.kgen")
    assert (tmp_path / "a.kgen").read_bytes() == (tmp_path / "b.kgen").read_bytes()
    with zipfile.ZipFile(tmp_path / "a.kgen") as zf:
        assert zf.namelist() == ["circuit.json", "params.npz", "hdl.json", "notes.txt", "quant.json", "DIGEST"]


def test_lanes_and_units_stored_inside_quant_json_still_load(tmp_path):
    """Models quantized before hdl.json existed kept lanes and units inside quant.json."""
    import json

    from kgen.quant import QuantConfig

    c = random_circuit(seed=2)
    doc = {"schema": "kgen.quant/1", "circuit_digest": c.digest, "report": {},
           "config": {**QuantConfig(steps=(3, 3, 3)).to_dict(), "lanes": 8, "units": 2}}
    save_model(c, tmp_path / "old.kgen", {"quant.json": json.dumps(doc).encode()})
    m = load_model(tmp_path / "old.kgen")
    assert m.quant.steps == (3, 3, 3) and (m.hdl.lanes, m.hdl.units) == (8, 2)


def test_choices_made_for_another_circuit_are_refused(tmp_path):
    from kgen.quant import HdlChoices, hdl_json

    save_model(random_circuit(seed=2), tmp_path / "m.kgen", {"hdl.json": hdl_json(HdlChoices(lanes=2),
                                                                                    random_circuit(seed=3).digest)})
    with pytest.raises(InputError, match=r"^hdl.json: expected choices for circuit [0-9a-f]{12}, found choices for "
                                         r"circuit [0-9a-f]{12}$"):
        load_model(tmp_path / "m.kgen")
