"""Load test of the multi-user viewer: N browser users (real headless Chromium, one context each) on one server
(127.0.0.1), each loading a different real CT and clicking Segment & Classify at the same time.

Checks every table against the pipeline run directly on that CT (the same bundled model, default options), and
measures the server's memory: the gateway and every session process (viewer + pipeline process), sampled every
0.2 s from /proc. Baseline in the same run: the pipeline called directly in this process on each CT one after the
other, so ``all tables / sum of direct runs`` says what sharing the 2 CPU cores among N sessions costs.

Usage: python benchmarks/bench_web_sessions.py [--users 4]
CTs (../shared/data): IRCAD 1 and IRCAD 7 (.nrrd, by path), TCIA CRLM 1006 (.nrrd, by path), TCIA CRLM 1004
(DICOM folder, uploaded); with fewer users the first ones.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "Testing" / "web"))
SHARED = Path(os.environ.get("LIVERLESION_SHARED_DATA", REPO.parent / "shared" / "data"))

USERS = (
    ("A", {"path": "ircad/3Dircadb1.1/ct.nrrd"}),
    ("B", {"upload_dir": str(SHARED / "tcia-crlm/CRLM-CT-1004/dicom")}),
    ("C", {"path": "ircad/3Dircadb1.7/ct.nrrd"}),
    ("D", {"path": "tcia-crlm/CRLM-CT-1006/ct.nrrd"}),
)


def descendants_rss(root_pid: int) -> dict[int, int]:
    """RSS (bytes) of ``root_pid`` and every process below it, keyed by process group."""
    parents, rss, groups = {}, {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            pid = int(entry.name)
            parents[pid], groups[pid] = int(fields[1]), int(fields[2])
            rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError, IndexError):
            continue
    by_group: dict[int, int] = {}
    for pid in rss:
        ancestor = pid
        while ancestor not in (root_pid, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root_pid:
            by_group[groups[pid]] = by_group.get(groups[pid], 0) + rss[pid]
    return by_group


class MemorySampler(threading.Thread):
    """Peak total RSS of a process tree, and peak RSS of its largest process group (one session)."""

    def __init__(self, pid: int, every_s: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.peak_total = self.peak_group = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            groups = descendants_rss(self.pid)
            self.peak_total = max(self.peak_total, sum(groups.values()))
            sessions = [size for group, size in groups.items() if group != self.pid]
            self.peak_group = max([self.peak_group, *sessions])
            time.sleep(self.every_s)


def direct_runs(users) -> dict:
    from liverlesion.inference.pipeline import Segmenter
    from liverlesion.io import read_ct

    segmenter = Segmenter.load()
    results = {}
    for name, source in users:
        path = SHARED / source["path"] if "path" in source else Path(source["upload_dir"])
        start = time.perf_counter()
        result = segmenter(read_ct(path))
        results[name] = (result, time.perf_counter() - start)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=4, choices=(1, 2, 3, 4))
    args = parser.parse_args()
    from browser_session import CHROMIUM, missing_browser_tools
    from viewer_server import ViewerServer

    reason = missing_browser_tools()
    if reason:
        print(f"cannot run: {reason}")
        return 1
    users = USERS[: args.users]
    direct = direct_runs(users)
    with tempfile.TemporaryDirectory(prefix="bench-web-sessions-") as folder:
        extra = ("--max-sessions", str(args.users))
        with ViewerServer(Path(folder), data_root=SHARED, extra_args=extra) as server:
            sampler = MemorySampler(server.process.pid)
            sampler.start()
            config = {"url": server.url, "chromium": CHROMIUM, "screenshot_dir": "",
                      "users": [{"name": name, **source} for name, source in users]}
            run = subprocess.run(["node", str(REPO / "Testing/web/two_users.mjs"), json.dumps(config)],
                                 cwd=REPO / "Testing/web", capture_output=True, text=True, timeout=3600)
            sampler.stop.set()
            log = server.log.read_text()
    reports = [line for line in run.stdout.splitlines() if line.startswith("{")]
    if not reports or not json.loads(reports[-1]).get("ok"):
        print(run.stdout[-3000:], run.stderr[-3000:], log[-3000:])
        return 1
    report = json.loads(reports[-1])
    correct = 0
    print(f"{args.users} concurrent sessions, bundled model, real CTs, 127.0.0.1, {os.cpu_count()} CPUs")
    for name, _ in users:
        seen = report["users"][name]
        result, seconds = direct[name]
        same = [(r["id"], r["lesion_class"], round(r["volume_ml"], 2)) for r in seen["rows"]] == [
            (les.id, les.lesion_class, round(les.volume_ml, 2)) for les in result.lesions
        ]
        correct += same
        print(f"  {name}: {seen['identity_after_load']}: {len(seen['rows'])} lesions, table "
              f"{'matches' if same else 'DIFFERS FROM'} the direct run; click → table "
              f"{seen['click_to_table_ms'] / 1000:.1f} s (direct pipeline {seconds:.1f} s)")
    total_direct = sum(seconds for _, seconds in direct.values())
    all_tables = report["timings_ms"]["all_tables"] / 1000
    print(f"all {args.users} tables after {all_tables:.1f} s; direct runs one after the other {total_direct:.1f} s "
          f"(ratio {all_tables / total_direct:.2f})")
    print(f"server memory peak (gateway + all sessions): {sampler.peak_total / 1024**3:.2f} GiB; "
          f"largest session {sampler.peak_group / 1024**3:.2f} GiB; pages open in {report['timings_ms']['pages_open'] / 1000:.1f} s")
    print(f"correct tables: {correct}/{args.users}")
    return 0 if correct == args.users else 1


if __name__ == "__main__":
    sys.exit(main())
