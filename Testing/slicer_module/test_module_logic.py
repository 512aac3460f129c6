"""The Slicer module's Logic outside Slicer: CLI arguments, progress parsing, lesion table helpers.

Slicer's GUI framework (qt, slicer.i18n, parameterNodeWrapper, ScriptedLoadableModule) does not exist
here, so those imports are replaced by minimal stand-ins; MRML classes are the real ones from
slicer-core. What runs is the module's own code: argument building against the real CLI parser,
JSON progress parsing across chunk boundaries, and reading a real vtkMRMLTableNode.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

slicer = pytest.importorskip("slicer", reason="needs slicer-core (pip install 'liverlesion[mrml]')")
pytestmark = pytest.mark.mrml

MODULE_FILE = Path(__file__).resolve().parents[2] / "LiverLesionAI" / "LiverLesionAI.py"


class _Base:
    def __init__(self, *args, **kwargs):
        pass


def _annotation(*args, **kwargs):
    return ("annotation", args, kwargs)


@pytest.fixture(scope="module")
def module():
    """LiverLesionAI.py imported with stand-ins for Slicer's GUI-only modules."""
    stand_ins = {
        "qt": types.ModuleType("qt"),
        "slicer.i18n": types.ModuleType("slicer.i18n"),
        "slicer.parameterNodeWrapper": types.ModuleType("slicer.parameterNodeWrapper"),
        "slicer.ScriptedLoadableModule": types.ModuleType("slicer.ScriptedLoadableModule"),
    }
    stand_ins["slicer.i18n"].tr = lambda text: text
    stand_ins["slicer.i18n"].translate = lambda context, text: text
    wrapper = stand_ins["slicer.parameterNodeWrapper"]
    wrapper.parameterNodeWrapper = lambda cls: cls
    wrapper.Choice = wrapper.WithinRange = _annotation
    loadable = stand_ins["slicer.ScriptedLoadableModule"]
    for name in ("ScriptedLoadableModule", "ScriptedLoadableModuleLogic", "ScriptedLoadableModuleWidget"):
        setattr(loadable, name, type(name, (_Base,), {}))
    loadable.ScriptedLoadableModuleTest = type("ScriptedLoadableModuleTest", (_Base,), {})
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        spec = importlib.util.spec_from_file_location("LiverLesionAI_under_test", MODULE_FILE)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous
    return loaded


@pytest.fixture
def a_report_table():
    """A real vtkMRMLTableNode with the core's report columns: two lesions."""
    from liverlesion.lesion_table import TABLE_COLUMNS

    table = slicer.vtkMRMLTableNode()
    for name in TABLE_COLUMNS:
        table.AddColumn().SetName(name)
    rows = [
        {
            "Lesion": "L1",
            "Class": "metastasis",
            "Centroid R": "-10.5",
            "Centroid A": "20",
            "Centroid S": "33.25",
        },
        {"Lesion": "L2", "Class": "cyst", "Centroid R": "4", "Centroid A": "-2", "Centroid S": "7"},
    ]
    for values in rows:
        row = table.AddEmptyRow()
        for column, name in enumerate(TABLE_COLUMNS):
            table.SetCellText(row, column, values.get(name, "1.5"))
    return table


def test_the_background_arguments_parse_with_the_real_cli(module, tmp_path):
    from liverlesion.cli.main import build_parser

    parser = build_parser()
    commands = next(action for action in parser._actions if action.dest == "command").choices
    if "segment" not in commands:
        pytest.skip("the `liverlesion segment` subcommand is not in this checkout yet")
    arguments = module.LiverLesionAILogic.segmentArguments(
        str(tmp_path / "ct.nrrd"), str(tmp_path / "out"), "torch", 3, 0.25
    )
    assert arguments[:3] == ["-m", "liverlesion", "segment"]
    parsed = parser.parse_args(arguments[2:])
    assert parsed.command == "segment"
    assert str(parsed.input) == str(tmp_path / "ct.nrrd")
    assert str(parsed.output) == str(tmp_path / "out")
    assert parsed.backend == "torch"
    assert parsed.threads == 3
    assert parsed.min_lesion_ml == pytest.approx(0.25)
    assert parsed.progress == "json"


def test_zero_threads_means_the_cli_default_of_all_cores(module):
    arguments = module.LiverLesionAILogic.segmentArguments("in.nrrd", "out", "onnxruntime", 0, 0.1)
    assert "--threads" not in arguments
    assert arguments[arguments.index("--min-lesion-ml") + 1] == "0.1"


@pytest.mark.parametrize(
    ("backend", "threads", "min_lesion_ml", "message"),
    [
        ("tensorflow", 0, 0.1, "backend"),
        ("onnxruntime", -1, 0.1, "threads"),
        ("torch", 0, -0.5, "minLesionMl"),
    ],
)
def test_bad_options_are_refused_with_the_rule_they_break(module, backend, threads, min_lesion_ml, message):
    with pytest.raises(ValueError, match=message):
        module.LiverLesionAILogic.segmentArguments("in.nrrd", "out", backend, threads, min_lesion_ml)


class _FakeQByteArray:
    def __init__(self, data: bytes):
        self._data = data

    def data(self) -> bytes:
        return self._data


class _FakeProcess:
    """Hands out stdout in the chunks a pipe might deliver."""

    def __init__(self, chunks: list[bytes]):
        self.chunks = list(chunks)

    def readAllStandardOutput(self):
        return _FakeQByteArray(self.chunks.pop(0) if self.chunks else b"")


def test_json_progress_lines_reach_the_callback_even_when_split_across_reads(module):
    lines = [
        json.dumps({"fraction": 0.1, "message": "stage 1: slice 3/40"}),
        "a log line that is not JSON",
        json.dumps({"fraction": 0.42, "message": "stage 2: slice 10/80"}),
        json.dumps({"fraction": 1.0, "message": "done", "outputs": {"labelmap": "labelmap.nii.gz"}}),
    ]
    stream = ("\n".join(lines) + "\n").encode()
    chunks = [stream[:17], stream[17:70], stream[70:71], stream[71:]]
    logic = module.LiverLesionAILogic()
    reports = []
    logic._process = _FakeProcess(chunks)
    logic._job = {"stdout": "", "onProgress": lambda fraction, message: reports.append((fraction, message))}
    for _ in chunks:
        logic._onStandardOutput()
    assert reports == [(0.1, "stage 1: slice 3/40"), (0.42, "stage 2: slice 10/80"), (1.0, "done")]
    assert logic._job["stdout"] == ""


def test_the_lesion_table_rows_and_columns_come_from_the_table_node(module, a_report_table):
    logic = module.LiverLesionAILogic
    rows = logic.lesionRows(a_report_table)
    assert [row["Class"] for row in rows] == ["metastasis", "cyst"]
    columns = [name for name, _title in logic.displayColumns(a_report_table)]
    assert columns[:2] == ["Lesion", "Class"]
    assert "Volume (mL)" in columns and "Long axis (mm)" in columns
    assert not [name for name in columns if name.startswith(("Centroid", "P("))]


def test_a_lesion_row_gives_its_ras_centroid_for_jumping_the_slice_views(module, a_report_table):
    rows = module.LiverLesionAILogic.lesionRows(a_report_table)
    centres = [module.LiverLesionAILogic.lesionCenterRas(None, row) for row in rows]
    assert centres == [[-10.5, 20.0, 33.25], [4.0, -2.0, 7.0]]
    assert module.LiverLesionAILogic.lesionCenterRas(None, {"Lesion": "L3"}) is None


def test_missing_packages_are_named_per_backend(module, monkeypatch):
    available = {"onnxruntime", "scipy"}
    monkeypatch.setattr(
        module.importlib.util, "find_spec", lambda name: object() if name in available else None
    )
    assert module.LiverLesionAILogic.missingPackages("onnxruntime") == []
    assert module.LiverLesionAILogic.missingPackages("torch") == ["torch"]
    available.clear()
    assert module.LiverLesionAILogic.missingPackages("onnxruntime") == ["onnxruntime", "scipy"]
    assert module.LiverLesionAILogic.missingPackages("torch") == ["onnxruntime", "scipy", "torch"]
    with pytest.raises(ValueError, match="backend"):
        module.LiverLesionAILogic.missingPackages("tensorflow")
