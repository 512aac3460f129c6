"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) with ``dicomweb-client``: fetch a CT series from a PACS, send results back.

:mod:`.locations` parses study / series URLs and needs nothing heavy; :mod:`.credentials` builds an
authenticated ``requests`` session (basic or bearer, from options or environment, never printed);
:mod:`.client` (imports dicomweb-client and pydicom) searches, retrieves and stores.
"""
