"""The 3D lesion labels (markups control points) and the report table node."""

from __future__ import annotations

from collections.abc import Sequence

from ..lesion_table import STRING_COLUMNS, TABLE_COLUMNS, lesion_rows
from ..results import Lesion
from ..terminology import lesion_color, lesion_point_label, lesion_segment_name
from .vtk_bridge import follow_transform, vtkDoubleArray, vtkStringArray


def new_labels_node(scene, base: str, volume_node, what: str = "lesion labels"):
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", scene.GenerateUniqueName(f"{base} {what}"))
    node.CreateDefaultDisplayNodes()
    display = node.GetDisplayNode()
    display.SetVisibility(True)
    display.SetVisibility2D(True)
    display.SetVisibility3D(True)
    display.SetPointLabelsVisibility(True)
    display.SetPropertiesLabelVisibility(False)
    follow_transform(node, volume_node)
    return node


def fill_labels(labels_node, lesions: Sequence[Lesion]) -> None:
    """One locked control point per lesion at its RAS centroid, labelled "L1 metastasis 91%".

    MRML colours a whole markups node, not single points, so the class shows in the label text; when every
    lesion has one class the points take that class's colour.
    """
    labels_node.SetLocked(False)
    labels_node.RemoveAllControlPoints()
    for lesion in lesions:
        index = labels_node.AddControlPoint(
            [float(v) for v in lesion.centroid_ras],
            lesion_point_label(lesion.id, lesion.lesion_class, lesion.confidence),
        )
        labels_node.SetNthControlPointLocked(index, True)
        labels_node.SetNthControlPointDescription(index, lesion_segment_name(lesion.id, lesion.lesion_class))
    classes = {lesion.lesion_class for lesion in lesions}
    display = labels_node.GetDisplayNode()
    if display is not None and len(classes) == 1:
        display.SetSelectedColor(*lesion_color(classes.pop()))
    labels_node.SetLocked(True)


def fill_table(table_node, lesions: Sequence[Lesion]) -> None:
    """Replace the table's columns with :data:`TABLE_COLUMNS`, one row per lesion."""
    fill_table_rows(table_node, lesion_rows(lesions))


def fill_table_rows(table_node, rows: Sequence[dict], columns: Sequence[str] = TABLE_COLUMNS) -> None:
    """Replace the table's columns with ``columns`` (strings in :data:`STRING_COLUMNS`, numbers otherwise)."""
    table_node.SetLocked(False)
    table_node.RemoveAllColumns()
    for column in columns:
        array = vtkStringArray() if column in STRING_COLUMNS else vtkDoubleArray()
        array.SetName(column)
        for row in rows:
            array.InsertNextValue(row[column] if column in STRING_COLUMNS else float(row[column]))
        table_node.AddColumn(array)
    table_node.SetLocked(True)
    table_node.Modified()


def table_rows(table_node) -> list[dict[str, str | float]]:
    """The rows of a lesion table node as dicts keyed by column name."""
    table = table_node.GetTable()
    names = [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())]
    rows = []
    for r in range(table.GetNumberOfRows()):
        row = {}
        for c, name in enumerate(names):
            value = table.GetValue(r, c)
            row[name] = value.ToString() if name in STRING_COLUMNS else value.ToDouble()
        rows.append(row)
    return rows
