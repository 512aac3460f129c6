"""What the Extensions Index checks before a build, and the Slicer versions the extension declares.

The index's check script wants a LICENSE at the root, an icon and screenshots that exist at the URLs the
top-level CMakeLists.txt names, and a 1-2 sentence description that names a restrictive licence of the bundled
weights. The extension declares Slicer >= 5.10 (Python 3.12): CMake stops on an older Slicer, and on one that
loads the module anyway (Python 3.9 in Slicer 5.6/5.8) the module file must still parse and say why it cannot run.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
CMAKE = (REPO / "CMakeLists.txt").read_text(encoding="utf-8")
MODULE_DIR = REPO / "LiverLesionAI"
RAW_PREFIX = "https://raw.githubusercontent.com/liverlesionai/LiverLesionAI/main/"


def cmake_value(variable: str) -> str:
    match = re.search(rf'set\({variable}\s+"([^"]*)"\)', CMAKE)
    assert match, f"{variable} is not set in CMakeLists.txt"
    return match.group(1)


def test_the_root_has_a_license_file():
    text = (REPO / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0" in text


@pytest.mark.parametrize("variable", ["EXTENSION_ICONURL", "EXTENSION_SCREENSHOTURLS"])
def test_every_icon_and_screenshot_url_names_a_picture_in_the_repository(variable):
    urls = cmake_value(variable).split()
    assert urls
    for url in urls:
        assert url.startswith(RAW_PREFIX), url
        path = REPO / url[len(RAW_PREFIX) :]
        assert path.is_file(), f"{variable} names {path.relative_to(REPO)}, which does not exist"
        width, height = Image.open(path).size
        assert min(width, height) >= 128


def test_the_screenshot_is_named_for_what_it_shows():
    """Desktop Slicer cannot run here: the picture is the browser viewer on a real CT, and says so."""
    for url in cmake_value("EXTENSION_SCREENSHOTURLS").split():
        assert "BrowserViewer" in url and "RealCT" in url, url


def test_the_description_is_one_or_two_sentences_naming_the_weights_licence():
    description = cmake_value("EXTENSION_DESCRIPTION")
    sentences = [part for part in re.split(r"(?<=[.!?])\s+", description.strip()) if part]
    assert 1 <= len(sentences) <= 2, sentences
    assert "non-commercial" in description and "CC BY-NC-ND" in description


def test_contributors_are_set():
    assert cmake_value("EXTENSION_CONTRIBUTORS").strip()


def version_guard() -> str:
    match = re.search(r"set\(LiverLesionAI_MINIMUM_SLICER_VERSION[^\n]*\n(if\(.*?\nendif\(\))", CMAKE, re.S)
    assert match, "no Slicer version check after find_package(Slicer)"
    return match.group(0)


@pytest.mark.skipif(shutil.which("cmake") is None, reason="cmake is not installed")
@pytest.mark.parametrize(("major", "minor", "accepted"), [(5, 6, False), (5, 8, False), (5, 10, True), (6, 0, True)])
def test_cmake_stops_on_a_slicer_older_than_5_10(tmp_path, major, minor, accepted):
    script = tmp_path / "guard.cmake"
    script.write_text(f"set(Slicer_VERSION_MAJOR {major})\nset(Slicer_VERSION_MINOR {minor})\n{version_guard()}\n")
    run = subprocess.run(["cmake", "-P", str(script)], capture_output=True, text=True)
    assert (run.returncode == 0) == accepted, run.stderr
    if not accepted:
        assert "needs Slicer 5.10 or later" in run.stderr


def test_the_ctest_runs_the_cli_from_the_build_tree_not_the_source_tree():
    text = (MODULE_DIR / "Testing" / "Python" / "CMakeLists.txt").read_text(encoding="utf-8")
    directories = re.findall(r"WORKING_DIRECTORY\s+(\S+)", text)
    assert directories and all(d == "${_module_build_dir}" for d in directories)
    assert "set(_module_build_dir ${CMAKE_BINARY_DIR}/${Slicer_QTSCRIPTEDMODULES_LIB_DIR})" in text
    assert "CMAKE_CURRENT_SOURCE_DIR" not in text


def test_the_readme_declares_the_slicer_version_the_cmake_list_requires():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert re.search(r"Slicer\s+(?:≥|>=)\s*5\.10|Slicer 5\.10 or later", readme)


def test_the_module_checks_the_python_version_before_importing_the_core():
    tree = ast.parse((MODULE_DIR / "LiverLesionAI.py").read_text(encoding="utf-8"))
    assert isinstance(tree.body[1], ast.ImportFrom) and tree.body[1].module == "__future__"
    names = [getattr(node, "name", None) for node in tree.body]
    first_core_import = next(
        index
        for index, node in enumerate(tree.body)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("liverlesion")
    )
    assert names.index("unsupportedReason") < first_core_import


def unsupported_reason_function() -> str:
    tree = ast.parse((MODULE_DIR / "LiverLesionAI.py").read_text(encoding="utf-8"))
    constants = next(
        node for node in tree.body if isinstance(node, ast.Assign) and "MINIMUM_PYTHON" in ast.unparse(node.targets[0])
    )
    function = next(
        node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "unsupportedReason"
    )
    return ast.unparse(constants) + "\n" + ast.unparse(function)


@pytest.mark.parametrize("version", ["3.9", "3.12"])
def test_under_the_pythons_of_slicer_5_8_and_5_10_the_module_parses_and_tells_whether_it_can_run(
    version, python_of, tmp_path
):
    """Slicer's translation function ``_`` is the identity here (the message text is what is checked)."""
    python = python_of(version)
    files = [MODULE_DIR / "LiverLesionAI.py", *sorted((MODULE_DIR / "LiverLesionAILib").glob("*.py"))]
    compiled = subprocess.run(
        [python, "-c", "import py_compile, sys\nfor f in sys.argv[1:]: py_compile.compile(f, cfile=f + '.pyc-check', doraise=True)", *map(str, files)],
        capture_output=True,
        text=True,
    )
    for path in files:
        Path(str(path) + ".pyc-check").unlink(missing_ok=True)
    assert compiled.returncode == 0, compiled.stderr
    probe = textwrap.dedent(
        """
        from __future__ import annotations
        import sys
        _ = str
        {function}
        print(unsupportedReason())
        """
    ).format(function=unsupported_reason_function())
    script = tmp_path / "probe.py"
    script.write_text(probe)
    said = subprocess.run([python, str(script)], capture_output=True, text=True, check=True).stdout.strip()
    if version == "3.9":
        assert "needs 3D Slicer 5.10 or later" in said and "Python 3.9" in said
    else:
        assert said == "None"


@pytest.mark.parametrize("version", ["3.12"])
def test_the_core_imports_and_its_cli_answers_under_the_oldest_declared_python(version, python_of):
    """Slicer 5.10's Python: the package, the lightweight modules the module loads, and the worker entry."""
    python = python_of(version)
    code = (
        "import liverlesion, liverlesion.cli.background, liverlesion.cli.worker, liverlesion.backends;"
        "print(liverlesion.__file__)"
    )
    run = subprocess.run(
        [python, "-c", code], capture_output=True, text=True, cwd=MODULE_DIR, env={"PYTHONPATH": str(MODULE_DIR)}
    )
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()).parent == MODULE_DIR / "liverlesion"


def test_the_module_side_loads_under_python_3_9_up_to_its_message(python_of):
    """On Slicer 5.6/5.8 the module file imports the Lib and the lightweight core before showing its message."""
    python = python_of("3.9")
    code = "import LiverLesionAILib.core_location, liverlesion.cli.background, liverlesion.cli.worker"
    run = subprocess.run([python, "-c", code], capture_output=True, text=True, cwd=MODULE_DIR, env={"PYTHONPATH": str(MODULE_DIR)})
    assert run.returncode == 0, run.stderr
