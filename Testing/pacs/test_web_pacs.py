"""The browser viewer on a team PACS, in real headless Chromium against the real Orthanc of this folder's fixtures:
``liverlesion web --dicomweb-url`` (the gateway, as serve_app.py starts it, with the bundled model) → the page lists
the PACS's studies → search by patient ID → Open CRLM-CT-1004 → Segment & Classify → erase the largest lesion with
the segment editor's Erase tool → Send to PACS. Then Orthanc is asked what it holds: one new SEG and one new SR
series in the study, both referencing the CT series, the SR with as many lesions as the corrected table.
The credentials travel only in the server's environment: neither the password nor the PACS's address reach the page.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from liverlesion.dicomweb.credentials import PASSWORD_ENV, TOKEN_ENV, USER_ENV

WEB = Path(__file__).resolve().parents[1] / "web"
SCREENSHOTS = WEB / "screenshots"
sys.path.insert(0, str(WEB))

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.mrml, pytest.mark.shared_data]


@pytest.fixture(scope="module")
def ct_series_uid(crlm_dicom) -> str:
    from liverlesion.dicom_objects.source_series import read_source_series

    return read_source_series(crlm_dicom).series_uid


@pytest.fixture(scope="module")
def a_pacs_session(orthanc, crlm_on_orthanc, bundled_model, tmp_path_factory):
    """Runs the gateway and pacs.mjs once; returns (the script's report, the study's series before, server log)."""
    from browser_session import CHROMIUM, missing_browser_tools
    from viewer_server import ViewerServer

    reason = missing_browser_tools()
    if reason:
        pytest.skip(reason)
    before = {s["0020000E"]["Value"][0] for s in _series(orthanc, crlm_on_orthanc)}
    env = {USER_ENV: orthanc.user, PASSWORD_ENV: orthanc.password, TOKEN_ENV: ""}
    with ViewerServer(tmp_path_factory.mktemp("web"), extra_args=("--dicomweb-url", orthanc.dicomweb, "--threads", "2"),
                      env=env) as server:
        config = {"url": server.url, "chromium": CHROMIUM, "screenshot_dir": str(SCREENSHOTS),
                  "search": "1004", "study_uid": crlm_on_orthanc}
        run = subprocess.run(["node", str(WEB / "pacs.mjs"), json.dumps(config)], cwd=WEB, capture_output=True,
                             text=True, timeout=900)
    log = server.log.read_text()
    reports = [line for line in run.stdout.splitlines() if line.startswith("{")]
    assert reports, f"pacs.mjs printed no report:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    report = json.loads(reports[-1])
    assert report.get("ok"), f"{report.get('error')}\nserver log:\n{log[-4000:]}"
    (SCREENSHOTS / "pacs_report.json").write_text(json.dumps({k: v for k, v in report.items() if k != "page_html"},
                                                              indent=2))
    return report, before, log


def _series(orthanc, study_uid: str) -> list[dict]:
    return orthanc.get_json(f"/dicom-web/studies/{study_uid}/series?includefield=NumberOfSeriesRelatedInstances")


def test_the_page_lists_the_pacs_studies_and_finds_the_patient_by_id(a_pacs_session, crlm_on_orthanc):
    report, _, _ = a_pacs_session
    assert crlm_on_orthanc in [s["study_uid"] for s in report["studies_listed"]]
    assert [(s["study_uid"], s["patient_id"]) for s in report["studies_found"]] == [(crlm_on_orthanc, "CRLM-CT-1004")]
    assert report["error_after_listing"] == ""


def test_opening_a_study_loads_its_ct_series_picked_as_the_cli_picks_it(a_pacs_session, ct_series_uid):
    report, _, _ = a_pacs_session
    assert report["error_after_open"] == ""
    assert report["info_after_open"].startswith("Loaded PACS study: 512×512×41 voxels")
    assert f"CT series {ct_series_uid}" in report["info_after_open"]
    assert "the study's largest CT series" in report["info_after_open"]
    assert report["identity_after_open"].startswith("Patient CRLM-CT-1004 (ID CRLM-CT-1004)")
    assert report["send_enabled_before_run"] is False


def test_the_erased_lesion_is_gone_from_the_table_after_send_to_pacs(a_pacs_session):
    report, _, _ = a_pacs_session
    assert report["error_after_run"] == "" and report["error_after_send"] == ""
    before, after = report["rows_after_run"], report["rows_after_send"]
    assert len(after) == len(before) - 1
    kept = sorted(r["volume_ml"] for r in before if r["id"] != report["erased"]["id"])
    assert sorted(r["volume_ml"] for r in after) == pytest.approx(kept, abs=0.02)
    assert report["sent"]["lesion_count"] == len(after)
    assert report["sent"]["seg_series"] in report["sent"]["text"] and report["sent"]["sr_series"] in report["sent"]["text"]


def test_orthanc_holds_a_new_seg_and_sr_series_on_the_ct_series_with_the_corrected_lesion_count(
    a_pacs_session, orthanc, crlm_on_orthanc, ct_series_uid, tmp_path
):
    from liverlesion.dicom_objects.reading import read_report
    from liverlesion.dicomweb.client import connect
    from liverlesion.dicomweb.credentials import credentials_from

    report, before, _ = a_pacs_session
    sent = report["sent"]
    new = [s for s in _series(orthanc, crlm_on_orthanc) if s["0020000E"]["Value"][0] not in before]
    assert sorted((s["00080060"]["Value"][0], s["0020000E"]["Value"][0], s["00201209"]["Value"][0]) for s in new) == [
        ("SEG", sent["seg_series"], 1), ("SR", sent["sr_series"], 1)]
    client = connect(orthanc.dicomweb, credentials_from(orthanc.user, orthanc.password, environ={}))
    seg = client.retrieve_series(crlm_on_orthanc, sent["seg_series"])[0]
    sr = client.retrieve_series(crlm_on_orthanc, sent["sr_series"])[0]
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct_series_uid
    evidence = {r.SeriesInstanceUID for s in sr.CurrentRequestedProcedureEvidenceSequence for r in s.ReferencedSeriesSequence}
    assert evidence == {ct_series_uid, sent["seg_series"]}
    assert len(seg.SegmentSequence) == 1 + len(report["rows_after_send"])  # the liver and each lesion left
    sr.save_as(tmp_path / "sr.dcm", enforce_file_format=True)
    assert len(read_report(tmp_path / "sr.dcm")[1:]) == len(report["rows_after_send"]) == sent["lesion_count"]


def test_neither_the_credentials_nor_the_pacs_address_reach_the_browser_or_the_log(a_pacs_session, orthanc):
    report, _, log = a_pacs_session
    page = report["page_html"]
    assert orthanc.password not in page and orthanc.password not in log
    assert orthanc.url not in page and orthanc.dicomweb not in page
    port = orthanc.url.rsplit(":", 1)[1]
    assert not [url for url in report["request_urls"] if f":{port}" in url]


class _Canary:
    """An HTTP server on a free loopback port that records every request it gets (a server the PACS side must
    never be made to call)."""

    def __enter__(self):
        import http.server
        import threading

        seen = self.requests = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802  (http.server's name)
                seen.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_exc):
        self.server.shutdown()
        self.server.server_close()


def test_crafted_pacs_requests_reach_no_other_server_and_answer_without_the_pacs_address(
    orthanc, crlm_on_orthanc, tmp_path
):
    """Requests sent over the websocket, not through the page: Open with a URL, a path, another host's study; a
    search with wildcards and query syntax; Send without a PACS study. Each is refused with a message; the canary
    server named in them gets nothing; no message shows the PACS's address or password."""
    import asyncio

    from viewer_server import Browser, ViewerServer, viewer_connection
    from wslink_client import page_triggers

    hostile_opens = ["{canary}/dicom-web/studies/1.2.3", "../../../etc/passwd", "1.2/../../../tools/reset",
                     "1.2.3?x=1&url={canary}", "1.2.840.99999.1"]
    env = {USER_ENV: orthanc.user, PASSWORD_ENV: orthanc.password, TOKEN_ENV: ""}

    async def crafted(server, canary) -> dict:
        seen = {"open": [], "search": [], "send": ""}
        async with viewer_connection(server, Browser()) as client:
            state = await client.wait_for_state(lambda s: s.get("ll__ViewerState__pacs_listings", 0) > 0, timeout=60)
            triggers = page_triggers(state)
            seen["listed"] = [s["study_uid"] for s in state["ll__ViewerState__pacs_studies"]]
            for text in hostile_opens:
                await client.set_state(ll__ViewerState__error_message="")
                await client.trigger(triggers["open_study"], text.format(canary=canary.url))
                state = await client.wait_for_state(lambda s: s["ll__ViewerState__error_message"]
                                                    and not s["ll__ViewerState__loading"], timeout=60)
                seen["open"].append(state["ll__ViewerState__error_message"])
            for text in ("*", "x&PatientID=*", f"{canary.url}/", "a/b"):
                listings = state["ll__ViewerState__pacs_listings"]
                await client.set_state(ll__ViewerState__error_message="", ll__ViewerState__pacs_query=text)
                await client.trigger(triggers["search_studies"])
                state = await client.wait_for_state(lambda s, n=listings: s["ll__ViewerState__pacs_listings"] > n)
                seen["search"].append(state["ll__ViewerState__error_message"])
            await client.trigger(triggers["send_to_pacs"])
            state = await client.wait_for_state(lambda s: s["ll__ViewerState__error_message"], timeout=30)
            seen["send"] = state["ll__ViewerState__error_message"]
            seen["volume_loaded"] = state["ll__ViewerState__volume_loaded"]
        return seen

    with _Canary() as canary, ViewerServer(tmp_path / "web", extra_args=("--dicomweb-url", orthanc.dicomweb),
                                           env=env) as server:
        seen = asyncio.run(crafted(server, canary))
        log = server.log.read_text()
    assert crlm_on_orthanc in seen["listed"]
    assert canary.requests == []
    assert all("StudyInstanceUID" in message for message in seen["open"][:4]), seen["open"]
    assert seen["open"][4].startswith("PACS: ") and "holds no CT series" in seen["open"][4]
    assert all("no wildcards" in message for message in seen["search"]), seen["search"]
    assert seen["send"] == "Send to PACS works for a study opened from the PACS." and seen["volume_loaded"] is False
    for message in seen["open"] + seen["search"] + [seen["send"]]:
        assert orthanc.url not in message and "127.0.0.1" not in message and orthanc.password not in message
    assert orthanc.password not in log


def test_liverlesion_web_with_dicomweb_options_lists_the_pacs_studies_and_prints_no_secret(orthanc, crlm_on_orthanc):
    """The real command (not the test server): ``liverlesion web --dicomweb-url BASE --dicomweb-user U`` with the
    password in the environment; a browser's session lists the studies; the password is in no output."""
    import asyncio
    import os
    import re
    import types

    from viewer_server import Browser, viewer_connection

    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVERLESION_DICOMWEB_")}
    env[PASSWORD_ENV] = orthanc.password
    process = subprocess.Popen(
        [sys.executable, "-m", "liverlesion", "web", "--port", "0", "--dicomweb-url", orthanc.dicomweb,
         "--dicomweb-user", orthanc.user], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )

    async def listed(url: str) -> dict:
        server = types.SimpleNamespace(url=url, ws_url=url.replace("http://", "ws://") + "ws")
        async with viewer_connection(server, Browser()) as client:
            return await client.wait_for_state(lambda s: s.get("ll__ViewerState__pacs_listings", 0) > 0, timeout=120)

    try:
        line = process.stdout.readline()
        url = re.search(r"open (http://\S+/)", line).group(1)
        state = asyncio.run(listed(url))
    finally:
        process.terminate()
        out, err = process.communicate(timeout=60)
    assert state["ll__ViewerState__error_message"] == ""
    assert crlm_on_orthanc in [s["study_uid"] for s in state["ll__ViewerState__pacs_studies"]]
    assert orthanc.password not in line + out + err + json.dumps(state)
    assert orthanc.dicomweb not in json.dumps(state)
