"""The viewer never writes or reads outside its own folders, whatever a client sends.

Crafted requests go straight to a real server over its websocket (``wslink_client.py``: the protocol the page
speaks), not through the page: uploads named with paths, a ``.nhdr`` whose data file lies elsewhere, path-field
values that leave the data root, a symlink out of it, a text file named ``.nrrd`` holding a password, a folder too
large to scan. Each is refused with a clear message; nothing appears outside; no message quotes a file.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import pytest

pytest.importorskip("trame_slicer", reason="trame-slicer (pip install 'liverlesion[web]') is not installed")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from viewer_server import Browser, ViewerServer, viewer_connection  # noqa: E402
from wslink_client import client_file, page_triggers  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.mrml]

SECRET = "DB_PASSWORD=hunter2-do-not-show"
ERROR = "ll__ViewerState__error_message"
INFO = "ll__ViewerState__info_message"


@pytest.fixture(scope="module")
def a_small_ct(tmp_path_factory) -> Path:
    """A small real-looking CT (phantom, 128×128×32) as one .nrrd."""
    from liverlesion.io import write_volume
    from liverlesion.phantom import generate_phantom

    phantom = generate_phantom(3, n_lesions=1, shape=(32, 128, 128))
    return write_volume(tmp_path_factory.mktemp("ct") / "small.nrrd", phantom.ct)


@pytest.fixture(scope="module")
def a_data_root(tmp_path_factory, a_small_ct) -> Path:
    """A data folder with one CT, a password file named .nrrd, a link out of it and a folder of 5001 files."""
    root = tmp_path_factory.mktemp("data-root")
    (root / "study1").mkdir()
    (root / "study1" / "ct.nrrd").write_bytes(a_small_ct.read_bytes())
    (root / "secrets.nrrd").write_text(SECRET + "\nsecond line\n")
    outside = tmp_path_factory.mktemp("outside")
    (outside / "other-patient.nrrd").write_bytes(a_small_ct.read_bytes())
    (root / "link-out").symlink_to(outside)
    (root / "link-out.nrrd").symlink_to(outside / "other-patient.nrrd")
    huge = root / "huge"
    huge.mkdir()
    for index in range(5001):
        (huge / f"{index}.dcm").touch()
    return root


@pytest.fixture(scope="module")
def a_server(tmp_path_factory, a_data_root):
    with ViewerServer(tmp_path_factory.mktemp("server"), data_root=a_data_root) as server:
        server.user = Browser()  # one user's session for every test of this module
        yield server


@pytest.fixture(scope="module")
def a_server_without_data_root(tmp_path_factory):
    with ViewerServer(tmp_path_factory.mktemp("server-no-root")) as server:
        server.user = Browser()
        yield server


async def _outcome(client, before: dict, timeout: float = 120) -> dict:
    """The state once the load that was just started has finished (an error or a new info line)."""
    def done(state):
        return not state["ll__ViewerState__loading"] and (
            state[ERROR] or state[INFO] != before[INFO]
        )
    return await client.wait_for_state(done, timeout)


async def _upload(server, files: list[dict]) -> dict:
    async with viewer_connection(server, server.user) as client:
        state = await client.state()
        trigger = page_triggers(state)["upload"]
        await client.trigger(trigger, files)
        await client.trigger(trigger, [])
        return await _outcome(client, state)


async def _load_path(server, text: str) -> dict:
    async with viewer_connection(server, server.user) as client:
        state = await client.state()
        await client.set_state(ll__ViewerState__input_path=text, ll__ViewerState__error_message="")
        await client.trigger(page_triggers(state)["load_path"])
        await asyncio.sleep(0.3)
        after = await _outcome(client, state)
        return {**after, "info_before": state[INFO]}


def _run(coroutine):
    return asyncio.run(coroutine)


@pytest.mark.parametrize("name_kind", ["absolute", "dot-dot", "windows"])
def test_an_upload_named_with_a_path_writes_nothing_there_and_loads_under_its_label(
    a_server, a_small_ct, tmp_path, name_kind
):
    target = tmp_path / f"written-{uuid.uuid4().hex}.nrrd"
    names = {
        "absolute": str(target),
        "dot-dot": "../" * 12 + str(target).lstrip("/"),
        "windows": "..\\..\\" + target.name,
    }
    state = _run(_upload(a_server, [client_file(names[name_kind], a_small_ct.read_bytes())]))
    assert state[ERROR] == ""
    assert state[INFO].startswith(f"Loaded {target.name}: 128×128×32 voxels")
    assert not target.exists()
    assert not (a_server.cwd.parent / target.name).exists()
    assert not list(a_server.folder.rglob(target.name))


def test_an_nhdr_whose_data_file_lies_outside_the_upload_is_refused(a_server, a_small_ct, tmp_path):
    from liverlesion.io import read_volume, write_volume

    detached = write_volume(tmp_path / "other.nhdr", read_volume(a_small_ct), compress=False)
    data_file = next(path for path in tmp_path.iterdir() if path.suffix == ".raw")
    for reference in (str(data_file), "../" * 12 + str(data_file).lstrip("/")):
        header = "".join(
            f"data file: {reference}\n" if line.startswith("data file:") else line
            for line in detached.read_text(errors="replace").splitlines(keepends=True)
        )
        state = _run(_upload(a_server, [client_file("scan.nhdr", header.encode())]))
        assert state[ERROR].startswith("scan.nhdr: is a header whose data file lies outside"), state[ERROR]
        assert str(data_file) not in state[ERROR] and str(tmp_path) not in state[ERROR]


def test_an_nhdr_uploaded_with_its_data_file_loads(a_server, a_small_ct, tmp_path):
    from liverlesion.io import read_volume, write_volume

    header = write_volume(tmp_path / "pair.nhdr", read_volume(a_small_ct), compress=False)
    data_file = next(path for path in tmp_path.iterdir() if path.suffix == ".raw")
    files = [client_file("pair.nhdr", header.read_bytes()), client_file(data_file.name, data_file.read_bytes())]
    state = _run(_upload(a_server, files))
    assert state[ERROR] == ""
    assert state[INFO].startswith("Loaded pair.nhdr: 128×128×32 voxels")


def test_the_path_field_is_off_without_a_data_root(a_server_without_data_root, a_small_ct):
    state = _run(_load_path(a_server_without_data_root, str(a_small_ct)))
    assert state["ll__ViewerState__path_enabled"] is False
    assert state[ERROR] == "This server does not open CTs by path; upload the CT file or DICOM folder."
    assert state["ll__ViewerState__volume_loaded"] is False


@pytest.mark.parametrize("text", ["/etc/passwd", "../../../../../../etc/passwd", "/", "..", "link-out",
                                  "link-out.nrrd", "link-out/other-patient.nrrd"])
def test_a_path_leaving_the_data_root_is_refused_without_reading_it(a_server, text):
    state = _run(_load_path(a_server, text))
    assert "is outside the data folder this server shares" in state[ERROR], state[ERROR]
    assert "root:" not in state[ERROR] and "other-patient" not in state[ERROR].replace(text, "")
    assert state[INFO] == state["info_before"]  # nothing was loaded


def test_a_path_inside_the_data_root_loads_and_the_studies_are_listed(a_server):
    state = _run(_load_path(a_server, "study1/ct.nrrd"))
    assert state[ERROR] == ""
    assert state[INFO].startswith("Loaded study1/ct.nrrd: 128×128×32 voxels")
    assert "study1/ct.nrrd" in state["ll__ViewerState__studies"]
    assert not any("other-patient" in study for study in state["ll__ViewerState__studies"])


def test_a_text_file_named_nrrd_is_refused_without_quoting_it(a_server):
    state = _run(_load_path(a_server, "secrets.nrrd"))
    assert state[ERROR].startswith("secrets.nrrd: "), state[ERROR]
    assert "DB_PASSWORD" not in state[ERROR] and "hunter2" not in state[ERROR] and "second line" not in state[ERROR]


def test_a_folder_too_large_to_scan_is_refused_quickly(a_server):
    state = _run(_load_path(a_server, "huge"))
    assert state[ERROR].startswith("huge: holds more than 5000 files"), state[ERROR]


def test_nothing_was_written_outside_the_servers_session_folder(a_server):
    """Every test above ran against this server: its session folder holds no leftover upload."""
    (session,) = a_server.work_root.iterdir()
    assert sorted(path.name for path in session.iterdir()) == ["session.json", "work"]
    uploads = session / "work" / "uploads"
    assert not uploads.exists() or not any(path.is_file() for path in uploads.rglob("*"))
    assert os.listdir(a_server.cwd) == []


# --- the same rules, function by function (fast) ----------------------------------------------------------------------
def test_a_client_file_name_becomes_only_a_label():
    from liverlesion.web.uploads import display_label, server_suffix

    assert display_label("/etc/cron.d/evil") == "evil"
    assert display_label("../../x.nii.gz") == "x.nii.gz"
    assert display_label("C:\\\\Users\\\\x\\\\scan.nrrd") == "scan.nrrd"
    assert display_label("a\nb<script>.nrrd") == "a_b_script_.nrrd"
    assert server_suffix("CT.NII.GZ") == ".nii.gz" and server_suffix("notes.txt") == ".bin"


def test_an_upload_is_written_under_server_names_in_a_new_folder(tmp_path):
    from liverlesion.web.uploads import write_upload

    first = write_upload([{"name": "/etc/passwd.nrrd", "content": [b"abc", b"def"]}], tmp_path)
    second = write_upload([{"name": "a.dcm", "content": b"1"}, {"name": "b.dcm", "content": b"2"}], tmp_path)
    assert first.path == tmp_path / "001" / "f00000.nrrd" and first.path.read_bytes() == b"abcdef"
    assert first.display_name == "passwd.nrrd"
    assert second.path == tmp_path / "002" and second.display_name == "2 uploaded files"
    assert sorted(p.name for p in second.path.iterdir()) == ["f00000.dcm", "f00001.dcm"]


def test_a_metaimage_header_naming_a_file_elsewhere_or_a_file_list_is_refused(tmp_path):
    from liverlesion.errors import InvalidInputError
    from liverlesion.web.input_guard import check_data_files_inside

    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "elsewhere.raw").write_bytes(b"\0" * 8)
    header = root / "x.mhd"
    for reference, message in (("../elsewhere.raw", "lies outside"), ("/etc/hostname", "lies outside"),
                               ("LIST", "list of data files"), ("missing.raw", "is missing")):
        header.write_text(f"ObjectType = Image\nNDims = 3\nElementDataFile = {reference}\n")
        with pytest.raises(InvalidInputError, match=message) as error:
            check_data_files_inside(header, root, "x.mhd")
        assert str(error.value).startswith("x.mhd: ") and reference not in str(error.value)
    header.write_text("ObjectType = Image\nElementDataFile = LOCAL\n")
    check_data_files_inside(header, root, "x.mhd")  # data in the file itself


def test_an_error_quoting_the_file_is_replaced_by_a_generic_one(tmp_path):
    from liverlesion.web.input_guard import without_file_contents

    secret = tmp_path / "s.nrrd"
    secret.write_text(SECRET + "\n")
    quoted = f"s.nrrd: could not be read as NRRD (bad magic '{SECRET[:12]}')"
    assert "DB_PASSWORD" not in without_file_contents(quoted, secret, "s.nrrd")
    plain = "s.nrrd: is empty (0 bytes); the copy or export failed — copy it again"
    assert without_file_contents(plain, secret, "s.nrrd") == plain
