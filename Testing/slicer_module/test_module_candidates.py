"""The module's low-confidence candidate controls, checked on the .ui and the code (desktop Slicer cannot run here).

What the controls do to the scene runs for real in Testing/mrml/test_mrml_candidates.py (the adapter functions the
Logic calls) and in the module's self-test inside Slicer.
"""

from __future__ import annotations

import ast
import xml.etree.ElementTree as ElementTree
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "LiverLesionAI"
MODULE_FILE = MODULE_DIR / "LiverLesionAI.py"
UI_FILE = MODULE_DIR / "Resources" / "UI" / "LiverLesionAI.ui"


def widget(name: str) -> ElementTree.Element:
    root = ElementTree.parse(UI_FILE).getroot()
    return next(w for w in root.iter("widget") if w.get("name") == name)


def results_section_widgets() -> set[str]:
    root = ElementTree.parse(UI_FILE).getroot()
    section = next(w for w in root.iter("widget") if w.get("name") == "resultsCollapsibleButton")
    return {w.get("name") for w in section.iter("widget")}


def method(class_name: str, name: str) -> ast.FunctionDef:
    tree = ast.parse(MODULE_FILE.read_text(encoding="utf-8"))
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == class_name)
    return next(node for node in cls.body if isinstance(node, ast.FunctionDef) and node.name == name)


def test_the_show_candidates_checkbox_sits_in_the_results_and_is_off_and_disabled_at_start():
    box = widget("showCandidatesCheckBox")
    assert box.get("class") == "QCheckBox"
    assert box.findtext("property[@name='text']/string") == "Show low-confidence candidates"
    assert box.findtext("property[@name='checked']/bool") == "false"
    assert box.findtext("property[@name='enabled']/bool") == "false"
    assert box.find("property[@name='SlicerParameterName']") is None, "the toggle belongs to each result, not the panel"
    assert {"showCandidatesCheckBox", "promoteCandidateButton", "lesionsTable"} <= results_section_widgets()


def test_the_promote_button_starts_disabled_and_is_enabled_only_for_a_selected_candidate_row():
    button = widget("promoteCandidateButton")
    assert button.get("class") == "QPushButton" and button.findtext("property[@name='enabled']/bool") == "false"
    code = ast.unparse(method("LiverLesionAIWidget", "_updateButtons"))
    assert "self.ui.promoteCandidateButton.enabled = hasResults and self._selectedCandidateRow() is not None" in code
    selected = ast.unparse(method("LiverLesionAIWidget", "_selectedCandidateRow"))
    assert "ResultsView.isCandidateRow" in selected
    setup = ast.unparse(method("LiverLesionAIWidget", "setup"))
    assert "self.ui.lesionsTable.connect('itemSelectionChanged()', self._updateButtons)" in setup


def test_the_checkbox_follows_the_selected_result_without_firing_its_toggle():
    code = ast.unparse(method("LiverLesionAIWidget", "_refreshTable"))
    block = code.index("self.ui.showCandidatesCheckBox.blockSignals(True)")
    assert block < code.index("self.ui.showCandidatesCheckBox.checked = shown") < code.index(
        "self.ui.showCandidatesCheckBox.blockSignals(wasBlocked)"
    )
    assert "self.logic.candidateTable(segmentation) if shown else None" in code, "candidate rows only when shown"


def test_the_logic_reaches_candidates_only_through_the_mrml_adapter():
    adapter_calls = {
        "candidateCount": "mrml.candidate_count",
        "candidatesShown": "mrml.candidates_shown",
        "setCandidatesShown": "mrml.set_candidates_shown",
        "promoteCandidate": "mrml.promote_candidate",
        "resultSegmentation": "result_segmentation_of",
    }
    for name, call in adapter_calls.items():
        assert call in ast.unparse(method("LiverLesionAILogic", name)), name
    promote = ast.unparse(method("LiverLesionAILogic", "promoteCandidate"))
    assert "classifier=self.secondOpinion()" in promote, "a promoted lesion is classed as Update lesions classes"
    source = MODULE_FILE.read_text(encoding="utf-8")
    assert "SetVisibility" not in source and "AddNewNodeByClass" not in source, "node changes belong in the adapter"


def test_the_widget_toggles_and_promotes_on_the_selected_result():
    toggled = ast.unparse(method("LiverLesionAIWidget", "onShowCandidatesToggled"))
    assert "self.logic.setCandidatesShown(self._parameterNode.segmentation, checked)" in toggled
    assert "self._refreshTable(force=True)" in toggled
    promote = ast.unparse(method("LiverLesionAIWidget", "onPromoteCandidateButton"))
    assert "self.logic.promoteCandidate(self._parameterNode.segmentation, row['Lesion'])" in promote
    assert "tryWithErrorDisplay" in toggled and "tryWithErrorDisplay" in promote
    modified = ast.unparse(method("LiverLesionAIWidget", "_onParameterNodeModified"))
    assert "self.logic.resultSegmentation(segmentation)" in modified, "picking a candidate segmentation shows its run"
