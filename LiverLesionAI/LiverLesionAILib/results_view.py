"""How a result appears in Slicer: segments and 3D labels in the views, the lesion table in the panel."""

from __future__ import annotations

import qt
import slicer
from slicer.i18n import tr as _

#: Report columns kept in the table node but left out of the panel (prefixes).
HIDDEN_COLUMN_PREFIXES = ("Centroid", "P(")
#: Name of the DICOM plugin that writes DICOM SEG (QuantitativeReporting's on Slicer 5.6-5.10).
DICOM_SEG_PLUGIN = "DICOMSegmentationPlugin"


class ResultsView:
    """Shows ``liverlesion.mrml.LesionNodes`` (segmentation, report table, 3D labels) to the user."""

    @staticmethod
    def show(lesionNodes, show3D: bool) -> None:
        """Show segments in the slice views, and surfaces plus lesion labels in 3D when ``show3D`` (surfaces are
        built only then: they take seconds on the GUI thread)."""
        segmentation = lesionNodes.segmentation
        if segmentation is None:
            return
        segmentation.CreateDefaultDisplayNodes()
        if show3D:
            segmentation.CreateClosedSurfaceRepresentation()
        segmentation.GetDisplayNode().SetVisibility3D(show3D)
        candidates = (getattr(lesionNodes, "candidates", None), getattr(lesionNodes, "candidate_labels", None))
        for node in (lesionNodes.labels, *candidates):
            if node is not None and node.GetDisplayNode() is not None:
                node.GetDisplayNode().SetVisibility3D(show3D)

    @staticmethod
    def isCandidateRow(row: dict) -> bool:
        """True for a low-confidence candidate's table row (Lesion "C6"; lesions are "L1")."""
        return str(row.get("Lesion", "")).startswith("C")

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
    def fillTable(cls, tableWidget, tableNode, candidateTableNode=None) -> list:
        """Fill a QTableWidget with the panel columns of ``tableNode``, then the rows of ``candidateTableNode``
        (low-confidence candidates, shown in italics: "C6", "candidate (p=0.23): cyst"); returns the rows (dicts
        of text) in table order."""
        rows = cls.tableRows(tableNode) + cls.tableRows(candidateTableNode)
        columns = [name for name in (rows[0] if rows else {}) if not name.startswith(HIDDEN_COLUMN_PREFIXES)]
        tableWidget.clear()
        tableWidget.setColumnCount(len(columns))
        tableWidget.setRowCount(len(rows))
        tableWidget.setHorizontalHeaderLabels(columns)
        candidateTip = _("Low-confidence candidate: not counted as a lesion. Promote to lesion if it is real.")
        for rowIndex, row in enumerate(rows):
            candidate = cls.isCandidateRow(row)
            for columnIndex, name in enumerate(columns):
                item = qt.QTableWidgetItem(row.get(name, ""))
                if candidate:
                    font = item.font()
                    font.setItalic(True)
                    item.setFont(font)
                    item.setToolTip(candidateTip)
                tableWidget.setItem(rowIndex, columnIndex, item)
        tableWidget.resizeColumnsToContents()
        return rows

    @staticmethod
    def jumpTo(positionRas) -> None:
        """Centre every slice view on ``positionRas`` (world RAS, mm)."""
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
    def dicomSegExportAvailable() -> bool:
        """True when a DICOM plugin of this Slicer writes DICOM SEG."""
        return DICOM_SEG_PLUGIN in getattr(slicer.modules, "dicomPlugins", {})

    @classmethod
    def openDicomSegExport(cls, segmentationNode) -> None:
        """Open Slicer's DICOM export dialog on the segmentation's study (the result sits under the CT's study).

        Raises RuntimeError naming what to install when no DICOM SEG plugin is there (Slicer 5.6-5.10 without
        the QuantitativeReporting extension).
        """
        if segmentationNode is None:
            raise ValueError(_("No segmentation to export."))
        if not cls.dicomSegExportAvailable():
            raise RuntimeError(
                _(
                    "DICOM SEG export needs the QuantitativeReporting extension on this Slicer version: install "
                    "it from the Extensions Manager and restart Slicer. The other formats are exported without it."
                )
            )
        itemId = slicer.mrmlScene.GetSubjectHierarchyNode().GetItemByDataNode(segmentationNode)
        dialog = slicer.qSlicerDICOMExportDialog()
        dialog.setMRMLScene(slicer.mrmlScene)
        dialog.execDialog(itemId)
