"""A real Orthanc (Debian ``orthanc`` + ``orthanc-dicomweb``) for tests: run the binary directly on a free
loopback port with a throw-away storage folder and HTTP basic auth; stop it by its PID."""

from __future__ import annotations

import glob
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

PLUGIN_PATTERNS = ("/usr/share/orthanc/plugins/libOrthancDicomWeb.so", "/usr/lib/orthanc/libOrthancDicomWeb.so*")


def dicomweb_plugin() -> str | None:
    """Path of the DICOMweb plugin installed by Debian's orthanc-dicomweb, or None."""
    for pattern in PLUGIN_PATTERNS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Orthanc:
    """A running Orthanc: its process, HTTP root, DICOMweb root and the one user's credentials."""

    process: subprocess.Popen
    url: str
    user: str
    password: str
    log: Path

    @property
    def dicomweb(self) -> str:
        return f"{self.url}/dicom-web"

    def get_json(self, path: str):
        """GET ``url + path`` with the credentials; the parsed JSON answer."""
        request = urllib.request.Request(self.url + path)
        token = b64encode(f"{self.user}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read())

    def stop(self) -> None:
        """Terminate the process (by its PID) and wait for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_orthanc(folder: Path, user: str = "radiologist", password: str = "pacs-secret-4711") -> Orthanc:
    """Start Orthanc with its storage, index and log in ``folder``; returns when its REST API answers.

    Raises:
        RuntimeError: the Orthanc binary or the DICOMweb plugin is missing, or it did not come up in 60 s.
    """
    binary, plugin = shutil.which("Orthanc") or shutil.which("orthanc"), dicomweb_plugin()
    if binary is None or plugin is None:
        raise RuntimeError("Orthanc or its DICOMweb plugin is missing (apt-get install orthanc orthanc-dicomweb)")
    port = free_port()
    storage = folder / "storage"
    storage.mkdir(parents=True)
    config = {
        "Name": "liverlesion-test",
        "StorageDirectory": str(storage),
        "IndexDirectory": str(storage),
        "HttpPort": port,
        "DicomServerEnabled": False,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": True,
        "RegisteredUsers": {user: password},
        "Plugins": [plugin],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "Host": f"127.0.0.1:{port}"},
    }
    (folder / "orthanc.json").write_text(json.dumps(config))
    log = folder / "orthanc.log"
    with open(log, "w") as stream:
        process = subprocess.Popen([binary, str(folder / "orthanc.json")], stdout=stream, stderr=subprocess.STDOUT)
    server = Orthanc(process, f"http://127.0.0.1:{port}", user, password, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            server.get_json("/system")
            return server
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"Orthanc did not answer within 60 s: {log.read_text()[-2000:]}")
