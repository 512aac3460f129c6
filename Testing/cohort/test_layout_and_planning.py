"""A study folder appears whole or not at all, once; a re-run skips done and unchanged bad studies."""

from __future__ import annotations

import json

import pytest
from liverlesion.cohort import CohortStudy
from liverlesion.cohort.eta import format_duration, remaining_seconds
from liverlesion.cohort.layout import DONE_NAME, CohortLayout, fingerprint
from liverlesion.cohort.planning import plan_cohort
from liverlesion.errors import InvalidInputError


def assembled_study(layout: CohortLayout, study_id: str, marker: dict):
    folder = layout.new_staging(study_id) / study_id
    folder.mkdir()
    (folder / "lesions.json").write_text("{}\n")
    (folder / DONE_NAME).write_text(json.dumps(marker))
    return folder


def test_the_first_commit_of_a_study_wins_and_a_second_attempt_is_discarded(tmp_path):
    layout = CohortLayout(tmp_path / "out")
    layout.create()
    first = assembled_study(layout, "s1", {"status": "done", "attempt": 1})
    second = assembled_study(layout, "s1", {"status": "done", "attempt": 2})
    assert layout.commit(first, "s1") is True
    assert layout.commit(second, "s1") is False
    assert layout.read_done("s1") == {"status": "done", "attempt": 1}
    assert sorted(p.name for p in layout.study_dir("s1").iterdir()) == [DONE_NAME, "lesions.json"]


def test_a_folder_not_written_by_the_cohort_is_refused_not_overwritten(tmp_path):
    layout = CohortLayout(tmp_path / "out")
    layout.create()
    (layout.study_dir("s1")).mkdir()
    (layout.study_dir("s1") / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="holds no done.json"):
        layout.check_free("s1")
    assert (layout.study_dir("s1") / "notes.txt").read_text() == "mine"


def test_clearing_the_staging_area_removes_what_an_interrupted_attempt_left(tmp_path):
    layout = CohortLayout(tmp_path / "out")
    layout.create()
    assembled_study(layout, "s1", {"status": "done"})
    layout.clear_staging()
    assert list(layout.staging.iterdir()) == []


def test_a_rerun_skips_done_and_unchanged_bad_files_and_reruns_failed_new_changed_and_url_ones(tmp_path):
    layout = CohortLayout(tmp_path / "out")
    layout.create()
    inputs = {name: tmp_path / f"{name}.nrrd" for name in ("done", "bad", "fixed", "failed", "new")}
    for path in inputs.values():
        path.write_bytes(b"x")
    studies = [CohortStudy(name, str(path)) for name, path in inputs.items()]
    url = "http://127.0.0.1:8042/dicom-web/studies/1.2.3"
    studies.append(CohortStudy("web", url))
    layout.write_failure("web", {"status": "bad", "input": url, "error": "401", "fingerprint": fingerprint(url)})
    layout.commit(assembled_study(layout, "done", {"status": "done"}), "done")
    for name, status in (("bad", "bad"), ("fixed", "bad"), ("failed", "failed")):
        layout.write_failure(name, {"status": status, "input": str(inputs[name]), "error": "e",
                                    "fingerprint": fingerprint(str(inputs[name]))})
    inputs["fixed"].write_bytes(b"a corrected file")
    plan = plan_cohort(studies, layout)
    assert [s.study_id for s in plan.done] == ["done"]
    assert [s.study_id for s in plan.bad] == ["bad"]
    assert [s.study_id for s in plan.to_run] == ["fixed", "failed", "new", "web"]


def test_the_eta_is_the_mean_pace_times_the_studies_left():
    assert remaining_seconds(30.0, 3, 10) == pytest.approx(70.0)
    assert remaining_seconds(5.0, 0, 10) is None
    assert [format_duration(s) for s in (None, 42, 185, 3720)] == ["?", "42s", "3m05s", "1h02m"]
