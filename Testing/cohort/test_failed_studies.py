"""A study that fails with an internal error is retried, then recorded failed with one line, and run again by the
next run; a manifest input naming several studies is recorded bad. (Dask LocalCluster with in-process workers.)"""

from __future__ import annotations

from collections import Counter

from liverlesion.cohort import CohortStudy
from liverlesion.cohort.cluster import ClusterSpec
from liverlesion.cohort.layout import CohortLayout
from liverlesion.cohort.runner import run_cohort
from liverlesion.cohort.study_task import SegmentOptions

THREADS = ClusterSpec(local_workers=1, processes=False, dashboard=False)


def test_a_study_failing_with_an_internal_error_is_retried_recorded_and_run_again_next_time(tmp_path):
    (tmp_path / "ct.nrrd").write_bytes(b"never read: the model fails first")
    studies = [CohortStudy("s1", str(tmp_path / "ct.nrrd"))]
    options = SegmentOptions(model=str(tmp_path / "no-such-model"))
    outcome = run_cohort(studies, tmp_path / "out", options, THREADS, retries=2)
    assert (outcome.done, outcome.bad, outcome.failed, outcome.ran) == (0, 0, 1, 1)
    layout = CohortLayout(tmp_path / "out")
    record = layout.read_failure("s1")
    assert record["status"] == "failed" and "no-such-model" in record["error"] and "\n" not in record["error"]
    starts = Counter(e["study_id"] for e in layout.events() if e["event"] == "start")
    assert starts == {"s1": 3}  # the first attempt and 2 retries
    again = run_cohort(studies, tmp_path / "out", options, THREADS, retries=0)
    assert again.ran == 1 and again.failed == 1
    assert "failed" in (tmp_path / "out" / "studies.csv").read_text()


def test_an_input_folder_holding_several_studies_is_recorded_bad(tmp_path):
    folder = tmp_path / "two"
    folder.mkdir()
    for name in ("a.nrrd", "b.nrrd"):
        (folder / name).write_bytes(b"x")
    outcome = run_cohort([CohortStudy("two", str(folder))], tmp_path / "out", SegmentOptions(), THREADS)
    assert outcome.bad == 1
    assert "holds 2 studies" in CohortLayout(tmp_path / "out").read_failure("two")["error"]


def test_a_study_that_finishes_after_a_cancel_is_discarded_and_the_next_run_commits_it(tmp_path):
    from liverlesion.cohort.study_task import run_study
    from liverlesion.io import write_volume
    from liverlesion.phantom import generate_phantom

    write_volume(tmp_path / "ct.nrrd", generate_phantom(4, shape=(24, 96, 96), n_lesions=1).ct)
    study = CohortStudy("p4", str(tmp_path / "ct.nrrd"))
    layout = CohortLayout(tmp_path / "out")
    layout.create()
    layout.mark_stopping()  # what the client does when the user cancels

    record = run_study(study, str(tmp_path / "out"), SegmentOptions())
    assert record == {"study_id": "p4", "input": str(tmp_path / "ct.nrrd"), "status": "stopped"}
    assert not layout.study_dir("p4").exists()
    assert list(layout.staging.iterdir()) == []  # nothing half-written left behind
    assert [e["event"] for e in layout.events() if e.get("study_id") == "p4"] == ["start", "stopped"]

    outcome = run_cohort([study], tmp_path / "out", SegmentOptions(), THREADS)
    assert (outcome.done, outcome.ran) == (1, 1)
    assert not layout.is_stopping()
    assert layout.read_done("p4")["status"] == "done"
