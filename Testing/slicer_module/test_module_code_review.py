"""The Slicer-side code paths that only desktop Slicer can run, checked on their source.

Each test pins one reviewer finding (issue 16) to the code that fixes it: the order of Cancel's steps, the worker
entry, the GUI-thread work a run does, where a finished run's results go when the panel is not open, the
self-test's dependency install. The behaviour behind them runs for real in test_worker_process.py,
test_module_mrml.py and test_core_location.py.
"""

from __future__ import annotations

import ast
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "LiverLesionAI"
LIB = MODULE_DIR / "LiverLesionAILib"


def source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def method(path: Path, class_name: str, name: str) -> ast.FunctionDef:
    tree = ast.parse(source(path))
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name)
    return next(node for node in cls.body if isinstance(node, ast.FunctionDef) and node.name == name)


def calls_in_order(function: ast.FunctionDef) -> list[str]:
    calls = [node for node in ast.walk(function) if isinstance(node, ast.Call)]
    calls.sort(key=lambda node: (node.lineno, node.col_offset))
    return [ast.unparse(node.func) for node in calls]


def test_cancel_closes_stdin_then_terminates_then_kills_later():
    calls = calls_in_order(method(LIB / "process_runner.py", "ProcessRunner", "cancel"))
    order = [name for name in calls if name.split(".")[-1] in {"closeWriteChannel", "terminate", "singleShot"}]
    assert [name.split(".")[-1] for name in order] == ["closeWriteChannel", "terminate", "singleShot"], calls
    assert "kill" not in [name.split(".")[-1] for name in calls], "kill() only from the timer, after terminate()"
    killer = calls_in_order(method(LIB / "process_runner.py", "ProcessRunner", "_killIfRunning"))
    assert any(name.endswith(".kill") for name in killer)


def test_the_background_run_uses_the_worker_entry_and_an_uncompressed_export():
    function = method(LIB / "background_segmentation.py", "BackgroundSegmentation", "start")
    command = next(
        node for node in ast.walk(function) if isinstance(node, ast.Call) and ast.unparse(node.func) == "segment_command"
    )
    assert any(k.arg == "worker" and ast.unparse(k.value) == "True" for k in command.keywords)
    start = ast.unparse(function)
    assert re.search(r"exportNode\(self\.volumeNode, inputPath, \{'useCompression': 0\}\)", start)


def test_python_slicer_is_looked_up_with_application_dir_path_called():
    code = ast.unparse(
        method(LIB / "background_segmentation.py", "BackgroundSegmentation", "pythonSlicerExecutable")
    )
    assert "applicationDirPath()" in code


def test_a_finished_run_stores_its_result_without_the_panel_being_open():
    module = MODULE_DIR / "LiverLesionAI.py"
    for name in ("_onSegmentationFinished", "_showResults"):
        code = ast.unparse(method(module, "LiverLesionAIWidget", name))
        assert not re.search(r"self\._parameterNode\.\w+\s*=", code), f"{name} writes to a parameter node that exit() unset"
    show = ast.unparse(method(module, "LiverLesionAIWidget", "_showResults"))
    assert "self._parameterNode or self.logic.getParameterNode()" in show


def test_the_progress_bar_appears_only_once_the_run_started():
    code = calls_in_order(method(MODULE_DIR / "LiverLesionAI.py", "LiverLesionAIWidget", "onSegmentButton"))
    start = code.index("self.logic.startSegmentation")
    shown = code.index("self.ui.progressBar.setVisible")
    assert shown > start


def test_loading_results_builds_surfaces_only_with_show_3d():
    code = ast.unparse(method(MODULE_DIR / "LiverLesionAI.py", "LiverLesionAILogic", "loadResults"))
    assert "show_3d=show3D" in code
    start = ast.unparse(method(MODULE_DIR / "LiverLesionAI.py", "LiverLesionAILogic", "startSegmentation"))
    assert "show3D=show3D" in start


def test_update_and_export_take_the_selected_segmentation():
    module = MODULE_DIR / "LiverLesionAI.py"
    for name in ("onUpdateLesionsButton", "onExportButton"):
        code = ast.unparse(method(module, "LiverLesionAIWidget", name))
        assert "self._parameterNode.segmentation" in code and ".table" not in code
    nodes = ast.unparse(method(module, "LiverLesionAILogic", "lesionNodes"))
    assert "lesion_nodes_from_segmentation" in nodes


def test_the_self_test_installs_onnxruntime_without_asking_before_segmenting():
    code = calls_in_order(method(MODULE_DIR / "LiverLesionAI.py", "LiverLesionAITest", "runTest"))
    install = code.index("LiverLesionAILogic.ensureDependencies")
    assert install < code.index("self.test_segment_update_and_export_a_phantom")
    text = ast.unparse(method(MODULE_DIR / "LiverLesionAI.py", "LiverLesionAITest", "runTest"))
    assert "askConfirmation=False" in text


def test_onnxruntime_is_installed_with_the_projects_lower_bound():
    code = source(LIB / "dependencies.py")
    bound = re.search(r'"onnxruntime":\s*"onnxruntime>=([\d.]+)"', code)
    assert bound
    assert f'"onnxruntime>={bound.group(1)}"' in source(REPO / "pyproject.toml")


def test_the_ct_selector_does_not_list_the_probabilities_vector_volume():
    root = ElementTree.parse(MODULE_DIR / "Resources" / "UI" / "LiverLesionAI.ui").getroot()
    selector = next(w for w in root.iter("widget") if w.get("name") == "inputVolumeSelector")
    show_children = selector.find("property[@name='showChildNodeTypes']/bool")
    assert show_children is not None and show_children.text == "false"


def test_dicom_seg_export_checks_for_a_plugin_and_names_what_to_install():
    code = source(LIB / "results_view.py")
    assert "DICOMSegmentationPlugin" in code and "QuantitativeReporting" in code
    export = ast.unparse(method(LIB / "results_view.py", "ResultsView", "openDicomSegExport"))
    assert export.index("dicomSegExportAvailable") < export.index("qSlicerDICOMExportDialog")


def test_the_first_run_asks_for_the_weights_licence_before_installing_anything():
    code = calls_in_order(method(MODULE_DIR / "LiverLesionAI.py", "LiverLesionAIWidget", "onSegmentButton"))
    assert code.index("WeightsLicence.ensureAccepted") < code.index("self.logic.ensureDependencies")


def test_no_deprecated_table_header_call_remains():
    for path in [*MODULE_DIR.glob("LiverLesionAI*.py"), *LIB.glob("*.py"), *(MODULE_DIR / "liverlesion").rglob("*.py")]:
        assert "SetUseColumnNameAsColumnHeader" not in source(path), path


def test_what_runs_while_the_scene_closes_creates_no_parameter_node():
    """onSceneStartClose -> setParameterNode(None) -> table refresh: asking for the parameter node there would
    add a node to the closing scene."""
    module = MODULE_DIR / "LiverLesionAI.py"
    for name in ("setParameterNode", "_onParameterNodeModified", "_refreshTable", "_currentSegmentation", "_updateButtons"):
        assert "getParameterNode" not in ast.unparse(method(module, "LiverLesionAIWidget", name)), name
