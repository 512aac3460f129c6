"""How a result appears in Slicer: segments and 3D labels in the views, the lesion table in the panel."""

import qt
import slicer
from slicer.i18n import tr as _

#: Report columns kept in the table node but left out of the panel (prefixes).
HIDDEN_COLUMN_PREFIXES = ("Centroid", "P(")


class ResultsView:
    """Shows ``liverlesion.mrml.LesionNodes`` (segmentation, report table, 3D labels) to the user."""

    @staticmethod
    def show(lesionNodes, show3D: bool) -> None:
        """Show segments in the slice views, and surfaces plus lesion labels in 3D when ``show3D``."""
        segmentation = lesionNodes.segmentation
        if segmentation is None:
            return
        segmentation.CreateDefaultDisplayNodes()
        if show3D:
            segmentation.CreateClosedSurfaceRepresentation()
        segmentation.GetDisplayNode().SetVisibility3D(show3D)
        if lesionNodes.labels is not None and lesionNodes.labels.GetDisplayNode() is not None:
            lesionNodes.labels.GetDisplayNode().SetVisibility3D(show3D)

    @staticmethod
    def tableRows(tableNode) -> list:
        """Rows of the report table node as dicts of column name -> displayed text."""
        if tableNode is None:
            return []
        table = tableNode.GetTable()
        names = [table.GetColumnName(column) for column in range(table.GetNumberOfColumns())]
        return [
            {name: tableNode.GetCellText(row, column) for column, name in enumerate(names)}
            for row in range(tableNode.GetNumberOfRows())
        ]

    @classmethod
    def fillTable(cls, tableWidget, tableNode) -> list:
        """Fill a QTableWidget with the panel columns of ``tableNode``; returns the rows (dicts of text)."""
        rows = cls.tableRows(tableNode)
        columns = [name for name in (rows[0] if rows else {}) if not name.startswith(HIDDEN_COLUMN_PREFIXES)]
        tableWidget.clear()
        tableWidget.setColumnCount(len(columns))
        tableWidget.setRowCount(len(rows))
        tableWidget.setHorizontalHeaderLabels(columns)
        for rowIndex, row in enumerate(rows):
            for columnIndex, name in enumerate(columns):
                tableWidget.setItem(rowIndex, columnIndex, qt.QTableWidgetItem(row[name]))
        tableWidget.resizeColumnsToContents()
        return rows

    @staticmethod
    def lesionCenterRas(segmentationNode, row: dict):
        """RAS centre (mm) of a lesion row: its "Centroid R/A/S" columns, else the centre of its segment;
        None when neither is available."""
        columns = ("Centroid R", "Centroid A", "Centroid S")
        if all(row.get(column) for column in columns):
            return [float(row[column]) for column in columns]
        lesionName = row.get("Lesion", "")
        if segmentationNode is None or not lesionName:
            return None
        segmentation = segmentationNode.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            name = segmentation.GetNthSegment(index).GetName()
            if name == lesionName or name.startswith(lesionName + " "):
                return segmentationNode.GetSegmentCenterRAS(segmentation.GetNthSegmentID(index))
        return None

    @staticmethod
    def jumpTo(positionRas) -> None:
        """Centre every slice view on ``positionRas`` (RAS mm)."""
        x, y, z = (float(value) for value in positionRas)
        slicer.modules.markups.logic().JumpSlicesToLocation(x, y, z, True)

    @staticmethod
    def openSegmentEditor(segmentationNode, volumeNode) -> None:
        """Switch to the Segment Editor on the result segmentation and its CT."""
        editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
        slicer.util.selectModule("SegmentEditor")
        editor.setSegmentationNode(segmentationNode)
        if volumeNode is not None:
            editor.setSourceVolumeNode(volumeNode)

    @staticmethod
    def openDicomSegExport(segmentationNode) -> None:
        """Open Slicer's DICOM export dialog for the segmentation (written as DICOM SEG by the DICOM module)."""
        if segmentationNode is None:
            raise ValueError(_("No segmentation to export."))
        itemId = slicer.mrmlScene.GetSubjectHierarchyNode().GetItemByDataNode(segmentationNode)
        dialog = slicer.qSlicerDICOMExportDialog()
        dialog.setMRMLScene(slicer.mrmlScene)
        dialog.execDialog(itemId)
