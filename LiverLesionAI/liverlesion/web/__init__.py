"""The browser viewer: a trame-slicer app (server-side MRML scene and rendering) doing the radiologist's loop, served
to several users at once.

Load a CT → *Segment & Classify* (progress bar; the pipeline runs in a separate process) → axial / coronal /
sagittal / 3D views with the segmentation overlay and per-lesion labels → lesion table (click: jump to the lesion)
→ hand correction with trame-slicer's segment editor → *Update lesions* → downloads (.seg.nrrd, NIfTI, CSV, JSON).

Serving (``liverlesion web``): :mod:`.gateway` (sign-in via :mod:`.access`, one :mod:`.session_process` per
browser, proxying, busy page, session lifetimes) starts :mod:`.session_main` per session.
One session: :mod:`.state` (typed trame state), :mod:`.session` (MRML scene work, no trame), :mod:`.table`
(table rows), :mod:`.web_logic` (state ↔ session, worker, downloads), :mod:`.ui` (layout), :mod:`.app` (wiring).
Files: :mod:`.uploads` (server-chosen names), :mod:`.input_guard` (nothing read outside, bounded scans, no file
content in messages), :mod:`.data_root` (the path field's folder), :mod:`.identity` (whose CT, for the header).
trame and slicer-core load only when :mod:`.app` is imported; the gateway needs only aiohttp.
"""
