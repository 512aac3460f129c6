"""The cohort manifest: header, ids, paths made absolute, URLs kept, one clear error per broken rule."""

from __future__ import annotations

import pytest
from liverlesion.cohort import CohortStudy, read_manifest
from liverlesion.errors import InvalidInputError


def write(tmp_path, text: str):
    path = tmp_path / "manifest.csv"
    path.write_text(text)
    return path


def test_relative_paths_are_made_absolute_from_the_manifest_folder_and_urls_are_kept(tmp_path):
    url = "http://127.0.0.1:8042/dicom-web/studies/1.2.3"
    path = write(tmp_path, f"study_id,input,truth\na,cts/a.nrrd,truth/a.nrrd\nb,/data/b.nii.gz,\nc,{url},\n")
    assert read_manifest(path) == [
        CohortStudy("a", str(tmp_path / "cts/a.nrrd"), str(tmp_path / "truth/a.nrrd")),
        CohortStudy("b", "/data/b.nii.gz", None),
        CohortStudy("c", url, None),
    ]


def test_a_two_column_manifest_has_no_truth_and_blank_lines_are_skipped(tmp_path):
    path = write(tmp_path, "study_id,input\n\nx-1,/ct/x.nrrd\n\n")
    assert read_manifest(path) == [CohortStudy("x-1", "/ct/x.nrrd", None)]


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("id,path\na,/x.nrrd\n", "header must be"),
        ("study_id,input\na,/x.nrrd\na,/y.nrrd\n", "given twice"),
        ("study_id,input\n../up,/x.nrrd\n", "must be 1-200 letters"),
        ("study_id,input\n.hidden,/x.nrrd\n", "must be 1-200 letters"),
        ("study_id,input\na/b,/x.nrrd\n", "must be 1-200 letters"),
        ("study_id,input\na,\n", "has no input"),
        ("study_id,input\na,/x.nrrd,extra\n", "has 3 columns"),
        ("study_id,input\n", "lists no study"),
    ],
)
def test_a_broken_manifest_is_refused_with_the_rule_it_breaks(tmp_path, text, rule):
    with pytest.raises(InvalidInputError, match=rule) as caught:
        read_manifest(write(tmp_path, text))
    assert "manifest.csv" in str(caught.value)


def test_a_missing_manifest_says_what_it_should_be(tmp_path):
    with pytest.raises(InvalidInputError, match="study_id,input"):
        read_manifest(tmp_path / "nope.csv")
