"""Static checks of the Slicer module that need no Slicer: .ui, module code, CMake lists and icons.

3D Slicer desktop cannot run here, so these catch what would otherwise only fail when a user opens the
module: a widget the code names but the .ui lacks, a widget class Slicer cannot instantiate, a parameter
bound to a widget the parameter node wrapper cannot connect, a core file missing from the install.
"""

from __future__ import annotations

import ast
import py_compile
import re
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
MODULE_DIR = REPO / "LiverLesionAI"
MODULE_FILE = MODULE_DIR / "LiverLesionAI.py"
UI_FILE = MODULE_DIR / "Resources" / "UI" / "LiverLesionAI.ui"
MODULE_CMAKE = MODULE_DIR / "CMakeLists.txt"
LIB_DIR = MODULE_DIR / "LiverLesionAILib"
LIB_FILES = sorted(LIB_DIR.glob("*.py"))
#: What the module and its Lib may import from ``liverlesion`` when Slicer loads them (standard library only
#: behind it); everything else (mrml, inference, phantom …) is imported inside the functions that use it.
LIGHTWEIGHT_CORE_MODULES = {"liverlesion.cli.background", "liverlesion.backends", "liverlesion.cli.exit_codes"}
ICONS = (REPO / "LiverLesionAI.png", MODULE_DIR / "Resources" / "Icons" / "LiverLesionAI.png")

#: Widget classes that Slicer's parameterNodeWrapper GUI connectors bind (by exact class), per parameter type.
BINDABLE = {
    "bool": {"QCheckBox", "QPushButton"},
    "int": {"QSpinBox", "QSlider", "QComboBox"},
    "float": {"QDoubleSpinBox", "ctkSliderWidget", "QComboBox"},
    "str": {"QLineEdit", "QTextEdit", "QComboBox"},
    "node": {"qMRMLNodeComboBox", "qMRMLSubjectHierarchyTreeView"},
}


@pytest.fixture(scope="module")
def ui_tree() -> ElementTree.Element:
    return ElementTree.parse(UI_FILE).getroot()


@pytest.fixture(scope="module")
def module_source() -> str:
    return MODULE_FILE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def module_ast(module_source: str) -> ast.Module:
    return ast.parse(module_source)


def ui_widgets(ui_tree: ElementTree.Element) -> dict[str, str]:
    """Widget name -> class for every widget in the .ui."""
    return {widget.get("name"): widget.get("class") for widget in ui_tree.iter("widget")}


def bound_parameters(ui_tree: ElementTree.Element) -> dict[str, str]:
    """SlicerParameterName -> widget class for every bound widget."""
    bound = {}
    for widget in ui_tree.iter("widget"):
        for prop in widget.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[prop.findtext("string")] = widget.get("class")
    return bound


def parameter_annotations(module_ast: ast.Module) -> dict[str, str]:
    """Field name -> annotation source of the @parameterNodeWrapper class."""
    for node in module_ast.body:
        if isinstance(node, ast.ClassDef) and any(
            ast.unparse(decorator) == "parameterNodeWrapper" for decorator in node.decorator_list
        ):
            return {
                statement.target.id: ast.unparse(statement.annotation)
                for statement in node.body
                if isinstance(statement, ast.AnnAssign)
            }
    raise AssertionError("no @parameterNodeWrapper class in LiverLesionAI.py")


def test_the_ui_file_is_designer_xml_with_a_qmrmlwidget_root(ui_tree):
    assert ui_tree.tag == "ui"
    root = ui_tree.find("widget")
    assert root.get("class") == "qMRMLWidget"
    assert root.get("name") == ui_tree.findtext("class") == "LiverLesionAI"


def test_every_widget_the_module_names_exists_in_the_ui(ui_tree, module_source):
    used = set(re.findall(r"self\.ui\.(\w+)", module_source))
    assert len(used) >= 10, f"expected the module to use many widgets, found {sorted(used)}"
    missing = used - set(ui_widgets(ui_tree))
    assert not missing, f"LiverLesionAI.py uses widgets missing from {UI_FILE.name}: {sorted(missing)}"


@pytest.mark.parametrize("path", LIB_FILES, ids=lambda path: path.name)
def test_every_widget_a_lib_file_names_exists_in_the_ui_and_the_file_compiles(ui_tree, path, tmp_path):
    py_compile.compile(str(path), cfile=str(tmp_path / "lib.pyc"), doraise=True)
    used = set(re.findall(r"\bui\.(\w+)", path.read_text(encoding="utf-8")))
    missing = used - set(ui_widgets(ui_tree))
    assert not missing, f"{path.name} uses widgets missing from {UI_FILE.name}: {sorted(missing)}"


def test_the_lib_is_a_package_of_one_class_per_file_that_the_module_imports(module_ast):
    assert (LIB_DIR / "__init__.py") in LIB_FILES and len(LIB_FILES) >= 4
    exported = set()
    for path in LIB_FILES:
        if path.name == "__init__.py":
            continue
        classes = [
            node.name
            for node in ast.parse(path.read_text(encoding="utf-8")).body
            if isinstance(node, ast.ClassDef)
        ]
        assert len(classes) == 1, f"{path.name} defines {classes}; one class per file"
        exported |= set(classes)
    init = ast.parse((LIB_DIR / "__init__.py").read_text(encoding="utf-8"))
    lazy = next(
        ast.literal_eval(node.value)
        for node in init.body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "_CLASSES"
    )
    assert set(lazy) == exported, f"LiverLesionAILib/__init__.py _CLASSES differs: {sorted(set(lazy) ^ exported)}"
    for name, module in lazy.items():
        assert name in ast.unparse(ast.parse((LIB_DIR / f"{module.lstrip('.')}.py").read_text(encoding="utf-8")))
    imported = {
        alias.name
        for node in module_ast.body
        if isinstance(node, ast.ImportFrom) and node.module == "LiverLesionAILib"
        for alias in node.names
    }
    assert imported and imported <= exported


def top_level_imports(tree: ast.Module, package: str = "") -> set[str]:
    """Modules imported when the file is imported (module body, not inside functions); relative imports
    resolved against ``package``."""
    names = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = (
                ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            )
            names.add(f"{base}.{node.module}" if base else node.module)
    return names


@pytest.mark.parametrize("path", [MODULE_FILE, *LIB_FILES], ids=lambda path: path.name)
def test_the_module_and_lib_import_only_lightweight_core_parts_at_load_time(path):
    imported = top_level_imports(ast.parse(path.read_text(encoding="utf-8")), "LiverLesionAILib")
    core = {name for name in imported if name.split(".")[0] == "liverlesion"}
    assert core <= LIGHTWEIGHT_CORE_MODULES, (
        f"{path.name} imports {sorted(core - LIGHTWEIGHT_CORE_MODULES)} at load time"
    )
    heavy = {
        name
        for name in imported
        if name.split(".")[0] in {"numpy", "torch", "onnxruntime", "SimpleITK", "scipy"}
    }
    assert not heavy, (
        f"{path.name} imports {sorted(heavy)} at load time; import inside the function that needs it"
    )


def test_the_lightweight_core_modules_import_only_the_standard_library_errors_and_each_other():
    for name in LIGHTWEIGHT_CORE_MODULES:
        path = MODULE_DIR / (name.replace(".", "/") + ".py")
        package = name.rsplit(".", 1)[0]
        for imported in top_level_imports(ast.parse(path.read_text(encoding="utf-8")), package):
            root = imported.split(".")[0]
            assert (
                root in sys.stdlib_module_names
                or imported in {"liverlesion.errors", *LIGHTWEIGHT_CORE_MODULES}
                or root == "__future__"
            ), f"{name} imports {imported} at load time"


def test_every_widget_class_is_qt_or_a_declared_slicer_custom_widget(ui_tree):
    declared = {
        custom.findtext("class"): custom.findtext("header") for custom in ui_tree.iter("customwidget")
    }
    for name, header in declared.items():
        assert re.match(r"(ctk|qMRML|qSlicer)\w+$", name), (
            f"custom widget {name} is not a CTK/MRML/Slicer class"
        )
        assert header == f"{name}.h", f"custom widget {name} declares header {header!r}"
    for name, cls in ui_widgets(ui_tree).items():
        assert cls.startswith("Q") or cls in declared, (
            f"widget {name} has class {cls}, neither Qt nor declared"
        )
    used_classes = set(ui_widgets(ui_tree).values())
    unused = set(declared) - used_classes
    assert not unused, f"custom widgets declared but not used: {sorted(unused)}"


def test_ui_sections_and_controls_the_design_asks_for_are_present(ui_tree):
    widgets = ui_widgets(ui_tree)
    sections = {widgets[name] for name in widgets if name.endswith("CollapsibleButton")}
    assert sections == {"ctkCollapsibleButton"}
    texts = {
        widget.findtext("property[@name='text']/string")
        for widget in ui_tree.iter("widget")
        if widget.get("class") == "ctkCollapsibleButton"
    }
    assert texts == {"Inputs", "Options", "Results", "Export"}
    assert widgets["lesionsTable"] == "QTableWidget"
    assert widgets["progressBar"] == "QProgressBar"
    assert widgets["exportDirectoryPathLineEdit"] == "ctkPathLineEdit"
    assert widgets["inputVolumeSelector"] == "qMRMLNodeComboBox"


def test_node_selectors_get_the_scene_through_mrml_scene_changed(ui_tree):
    widgets = ui_widgets(ui_tree)
    selectors = {name for name, cls in widgets.items() if cls == "qMRMLNodeComboBox"}
    connected = {
        connection.findtext("receiver")
        for connection in ui_tree.iter("connection")
        if connection.findtext("signal") == "mrmlSceneChanged(vtkMRMLScene*)"
        and connection.findtext("slot") == "setMRMLScene(vtkMRMLScene*)"
        and connection.findtext("sender") == "LiverLesionAI"
    }
    assert selectors and selectors == connected


def test_every_bound_widget_names_a_parameter_of_a_type_it_can_represent(ui_tree, module_ast):
    annotations = parameter_annotations(module_ast)
    bound = bound_parameters(ui_tree)
    assert {"inputVolume", "backend", "threads", "minLesionMl", "show3D"} <= set(bound)
    for parameter, widget_class in bound.items():
        assert parameter in annotations, f"the .ui binds {parameter!r}, which the parameter node lacks"
        annotation = annotations[parameter]
        kind = (
            "node" if "vtkMRML" in annotation else re.search(r"\b(bool|int|float|str)\b", annotation).group(1)
        )
        assert widget_class in BINDABLE[kind], f"{widget_class} cannot be bound to {parameter}: {annotation}"
        if widget_class in {"QComboBox"}:
            assert "Choice(" in annotation, f"a QComboBox bound to {parameter} needs a Choice annotation"
        if widget_class in {"ctkSliderWidget", "QSlider"}:
            assert "WithinRange(" in annotation, (
                f"a slider bound to {parameter} needs a WithinRange annotation"
            )


def test_the_parameter_node_has_the_inputs_options_and_output_references(module_ast):
    annotations = parameter_annotations(module_ast)
    assert annotations["inputVolume"] == "vtkMRMLScalarVolumeNode"
    assert annotations["segmentation"] == "vtkMRMLSegmentationNode"
    # Table and labels come from the segmentation's node references: a second field could name another run's.
    assert "table" not in annotations and "labels" not in annotations
    assert "Choice(BACKENDS)" in annotations["backend"]


def test_the_module_file_compiles_and_defines_the_four_slicer_classes(module_ast, tmp_path):
    py_compile.compile(str(MODULE_FILE), cfile=str(tmp_path / "module.pyc"), doraise=True)
    classes = {
        node.name: [ast.unparse(base) for base in node.bases]
        for node in module_ast.body
        if isinstance(node, ast.ClassDef)
    }
    assert "ScriptedLoadableModule" in classes["LiverLesionAI"]
    assert "ScriptedLoadableModuleWidget" in classes["LiverLesionAIWidget"]
    assert "VTKObservationMixin" in classes["LiverLesionAIWidget"]
    assert "ScriptedLoadableModuleLogic" in classes["LiverLesionAILogic"]
    assert "ScriptedLoadableModuleTest" in classes["LiverLesionAITest"]


def test_user_visible_strings_in_the_module_go_through_translation(module_ast):
    """Title, help and every status/dialog message are wrapped in _() (slicer.i18n.tr)."""
    calls_needing_text = {"errorDisplay", "confirmOkCancelDisplay", "tryWithErrorDisplay", "_setStatus"}
    for node in ast.walk(module_ast):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", None) in calls_needing_text
            and node.args
        ):
            first = node.args[0]
            assert not isinstance(first, ast.Constant), (
                f"untranslated string at line {node.lineno}: {first.value!r}"
            )
        if isinstance(node, ast.Assign) and any(
            ast.unparse(target)
            in {"self.parent.title", "self.parent.helpText", "self.parent.acknowledgementText"}
            for target in node.targets
        ):
            value = node.value
            if isinstance(value, ast.Call) and ast.unparse(value.func).endswith(".format"):
                value = value.func.value  # _("...{x}").format(x=...)
            assert isinstance(value, ast.Call) and ast.unparse(value.func) == "_", f"line {node.lineno}"


def test_the_cmake_list_installs_every_core_python_file(module_source):
    cmake = MODULE_CMAKE.read_text(encoding="utf-8")
    core_files = sorted(
        path.relative_to(MODULE_DIR).as_posix()
        for path in (MODULE_DIR / "liverlesion").rglob("*.py")
        if "__pycache__" not in path.parts
    )
    assert core_files, "the liverlesion package has no Python files"
    globbed = re.search(
        r"file\(GLOB_RECURSE\s+(\w+)\s+RELATIVE\s+\$\{CMAKE_CURRENT_SOURCE_DIR\}[^)]*liverlesion/\*\.py",
        cmake,
    )
    if globbed:
        assert re.search(r"set\(MODULE_PYTHON_SCRIPTS[^)]*\$\{" + globbed.group(1) + r"\}", cmake)
    else:
        missing = [path for path in core_files if path not in cmake]
        assert not missing, f"{MODULE_CMAKE} does not list {missing}"
    assert "${MODULE_NAME}.py" in cmake
    lib_list = re.search(r"set\((\w+)\s+([^)]*\$\{MODULE_NAME\}Lib/[^)]*)\)", cmake)
    assert lib_list, "no list of ${MODULE_NAME}Lib/*.py files"
    listed = set(re.findall(r"\$\{MODULE_NAME\}Lib/(\S+\.py)", lib_list.group(2)))
    assert listed == {path.name for path in LIB_FILES}, "the LiverLesionAILib list differs from the folder"
    assert re.search(r"set\(MODULE_PYTHON_SCRIPTS[^)]*\$\{" + lib_list.group(1) + r"\}", cmake)
    assert "slicerMacroBuildScriptedModule" in cmake
    assert "slicer_add_python_unittest(SCRIPT ${MODULE_NAME}.py)" in cmake


def test_the_resources_the_cmake_list_names_exist():
    cmake = MODULE_CMAKE.read_text(encoding="utf-8").replace("${MODULE_NAME}", "LiverLesionAI")
    for resource in re.findall(r"(Resources/\S+\.(?:ui|png))", cmake):
        assert (MODULE_DIR / resource).is_file(), f"{resource} is listed but missing"
    assert (MODULE_DIR / "Testing" / "CMakeLists.txt").is_file()
    assert (MODULE_DIR / "Testing" / "Python" / "CMakeLists.txt").is_file()


def test_the_extension_cmake_list_has_the_metadata_slicer_needs():
    cmake = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
    for variable in (
        "EXTENSION_HOMEPAGE",
        "EXTENSION_CATEGORY",
        "EXTENSION_CONTRIBUTORS",
        "EXTENSION_DESCRIPTION",
        "EXTENSION_ICONURL",
        "EXTENSION_SCREENSHOTURLS",
        "EXTENSION_DEPENDS",
    ):
        assert re.search(rf"set\({variable}\s+\"[^\"]+\"\)", cmake), f"{variable} is not set"
    for line in (
        "project(LiverLesionAI)",
        "find_package(Slicer REQUIRED)",
        "include(${Slicer_USE_FILE})",
        "add_subdirectory(LiverLesionAI)",
        "include(${Slicer_EXTENSION_GENERATE_CONFIG})",
        "include(${Slicer_EXTENSION_CPACK})",
    ):
        assert line in cmake, f"{line} missing from the top-level CMakeLists.txt"


@pytest.mark.parametrize("icon_path", ICONS, ids=lambda path: path.relative_to(REPO).as_posix())
def test_the_icon_is_a_drawn_128_pixel_rgba_picture(icon_path):
    image = Image.open(icon_path)
    assert image.size == (128, 128)
    assert image.mode == "RGBA"
    pixels = np.asarray(image)
    alpha = pixels[..., 3]
    assert (alpha == 0).mean() > 0.1, "the background should be transparent"
    assert (alpha == 255).mean() > 0.3, "the picture should cover a good part of the icon"
    assert len(np.unique(alpha)) > 20, "edges should be anti-aliased"
    opaque = pixels[alpha == 255][:, :3]
    assert len(np.unique(opaque, axis=0)) > 200, "the icon looks like a flat colour"


def test_the_extension_and_module_icons_are_the_same_picture():
    first, second = (np.asarray(Image.open(path)) for path in ICONS)
    assert np.array_equal(first, second)
