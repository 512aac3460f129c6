"""write_seg_nrrd: a Slicer segmentation file with named segments on the labelmap's exact grid."""

from __future__ import annotations

import numpy as np
import pytest
from liverlesion.io import Segment, read_volume, write_seg_nrrd
from liverlesion.labels import LABEL_COLORS
from liverlesion.volume import Volume

LIVER_TERMINOLOGY = (
    "Segmentation category and type - 3D Slicer General Anatomy list~SCT^123037004^Anatomical Structure"
    "~SCT^10200004^Liver~^^~Anatomic codes - DICOM master list~^^~^^"
)


def a_labelmap() -> Volume:
    labels = np.zeros((6, 20, 16), dtype=np.uint8)
    labels[1:5, 3:15, 2:12] = 1
    labels[2:4, 5:8, 4:7] = 4
    labels[3, 10:12, 8:10] = 2
    direction = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])
    return Volume(labels, (0.8, 0.75, 3.0), (-101.5, 22.25, -300.0), direction)


SEGMENTS = [
    (1, "Liver", LABEL_COLORS[1], LIVER_TERMINOLOGY),
    (4, "Lesion 1 — metastasis", LABEL_COLORS[4], None),
    Segment(2, "Lesion 2 — cyst", LABEL_COLORS[2]),
]


def test_a_seg_nrrd_holds_named_segments_and_exact_geometry(tmp_path):
    nrrd = pytest.importorskip("nrrd", reason="pynrrd reads the header independently of ITK")
    labelmap = a_labelmap()
    path = write_seg_nrrd(tmp_path / "segmentation.seg.nrrd", labelmap, SEGMENTS)
    data, header = nrrd.read(str(path))
    assert header["space"] == "left-posterior-superior"
    assert header["type"] in ("unsigned char", "uchar", "uint8")
    np.testing.assert_array_equal(data.transpose(2, 1, 0), labelmap.array)  # pynrrd gives (x, y, z)
    np.testing.assert_allclose(header["space origin"], labelmap.origin, atol=1e-9)
    directions = np.asarray(header["space directions"], dtype=float).T  # rows = axes → columns
    np.testing.assert_allclose(directions, labelmap.direction @ np.diag(labelmap.spacing), atol=1e-9)
    assert header["Segmentation_MasterRepresentation"] == "Binary labelmap"
    assert header["Segmentation_ContainedRepresentationNames"].startswith("Binary labelmap")
    # pynrrd decodes the header as ASCII and drops the em dash; Slicer reads UTF-8, so check the raw bytes too
    assert [header[f"Segment{i}_Name"] for i in range(3)] == [
        "Liver",
        "Lesion 1  metastasis",
        "Lesion 2  cyst",
    ]
    raw_header = path.read_bytes().split(b"\n\n")[0].decode("utf-8")
    assert "Segment1_Name:=Lesion 1 — metastasis\n" in raw_header
    assert [int(header[f"Segment{i}_LabelValue"]) for i in range(3)] == [1, 4, 2]
    assert [header[f"Segment{i}_Layer"] for i in range(3)] == ["0", "0", "0"]
    assert "Segment3_Name" not in header
    np.testing.assert_allclose(
        [float(c) for c in header["Segment1_Color"].split()], LABEL_COLORS[4], atol=1e-5
    )
    assert header["Segment0_Tags"] == f"TerminologyEntry:{LIVER_TERMINOLOGY}|"
    # extents are inclusive x, y, z index bounds: the metastasis occupies x 4..6, y 5..7, z 2..3
    assert header["Segment1_Extent"] == "4 6 5 7 2 3"
    assert header["Segment2_Extent"] == "8 9 10 11 3 3"


def test_a_seg_nrrd_reads_back_as_the_same_labelmap(tmp_path):
    labelmap = a_labelmap()
    read = read_volume(write_seg_nrrd(tmp_path / "s.seg.nrrd", labelmap, SEGMENTS))
    np.testing.assert_array_equal(read.array, labelmap.array)
    assert read.same_grid(labelmap, atol=1e-9)


def test_duplicate_label_values_are_refused(tmp_path):
    with pytest.raises(ValueError, match="distinct"):
        write_seg_nrrd(tmp_path / "s.seg.nrrd", a_labelmap(), [(1, "a", (1, 0, 0)), (1, "b", (0, 1, 0))])


@pytest.mark.mrml
def test_slicer_loads_the_seg_nrrd_as_a_segmentation_with_named_segments(tmp_path):
    slicer = pytest.importorskip("slicer", reason="slicer-core (pip install 'liverlesion[mrml]')")
    labelmap = a_labelmap()
    path = write_seg_nrrd(tmp_path / "segmentation.seg.nrrd", labelmap, SEGMENTS)
    scene = slicer.vtkMRMLScene()
    logic = slicer.vtkSlicerSegmentationsModuleLogic()
    logic.SetMRMLScene(scene)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage = scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(path))
    assert storage.ReadData(node) == 1
    segmentation = node.GetSegmentation()
    assert segmentation.GetNumberOfSegments() == 3
    names = [segmentation.GetNthSegment(i).GetName() for i in range(3)]
    assert names == ["Liver", "Lesion 1 — metastasis", "Lesion 2 — cyst"]
    metastasis = segmentation.GetSegment(segmentation.GetSegmentIdBySegmentName("Lesion 1 — metastasis"))
    assert metastasis.GetLabelValue() == 4
    np.testing.assert_allclose(metastasis.GetColor(), LABEL_COLORS[4], atol=1e-5)
