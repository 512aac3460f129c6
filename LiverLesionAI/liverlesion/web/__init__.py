"""The browser viewer: a trame-slicer app (server-side MRML scene and rendering) doing the radiologist's loop.

Load a CT → *Segment & Classify* (progress bar; the pipeline runs in a worker thread) → axial / coronal /
sagittal / 3D views with the segmentation overlay and per-lesion labels → lesion table (click: jump to the lesion)
→ hand correction with trame-slicer's segment editor → *Update lesions* → downloads (.seg.nrrd, NIfTI, CSV, JSON).

Modules: :mod:`.state` (typed trame state), :mod:`.session` (MRML scene work, no trame), :mod:`.table`
(table rows), :mod:`.web_logic` (state ↔ session, worker thread, downloads), :mod:`.ui` (layout),
:mod:`.app` (wiring and ``main``). trame and slicer-core load only when :mod:`.app` is imported.
"""
