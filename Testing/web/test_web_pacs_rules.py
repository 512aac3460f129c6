"""What a browser may send to the viewer's PACS side (a StudyInstanceUID, a search text: nothing that could name
another server or path), how the configured server is kept from the page, and how candidate rows are marked."""

from __future__ import annotations

import pytest
from liverlesion.dicomweb.credentials import PASSWORD_ENV, TOKEN_ENV, USER_ENV
from liverlesion.dicomweb.locations import DicomWebError
from liverlesion.errors import InvalidInputError
from liverlesion.web.pacs import PacsServer, check_search_text, check_study_uid


def test_a_study_uid_passes_and_anything_that_could_reach_elsewhere_is_refused_without_echo():
    assert check_study_uid("1.3.6.1.4.1.9328.50.1.1004") == "1.3.6.1.4.1.9328.50.1.1004"
    for hostile in ("http://169.254.169.254/latest", "../../etc/passwd", "1.2/../../studies", "1.2?x=1", "1.2#",
                    "1." + "2" * 80, "", " 1.2", "1..2", None, 12, ["1.2"]):
        with pytest.raises(InvalidInputError, match="StudyInstanceUID") as refused:
            check_study_uid(hostile)
        assert str(hostile) not in str(refused.value) or hostile in ("", None)


def test_a_search_text_allows_names_and_ids_but_no_wildcards_or_url_characters():
    assert check_search_text("  O'Brien^Mary-Ann ") == "O'Brien^Mary-Ann"
    assert check_search_text("CRLM-CT-1004") == "CRLM-CT-1004" and check_search_text(None) == ""
    for hostile in ("*", "a?b", "x&StudyInstanceUID=1", "a/b", "%2e%2e", "x" * 65, "a\nb"):
        with pytest.raises(InvalidInputError, match="no wildcards"):
            check_search_text(hostile)


def test_the_configured_server_takes_user_info_from_its_url_and_never_shows_a_secret():
    server = PacsServer.configured("http://me:s3cret-pw@pacs.local:8042/dicom-web/")
    assert server.base_url == "http://pacs.local:8042/dicom-web"
    assert (server.credentials.kind, server.credentials.user, server.credentials.password) == ("basic", "me", "s3cret-pw")
    assert "s3cret" not in repr(server) and "pacs.local" not in repr(server)
    bearer = PacsServer.configured("https://pacs/dicom-web", environ={TOKEN_ENV: "t0k3n-abc"})
    assert bearer.credentials.kind == "bearer"
    basic = PacsServer.configured("https://pacs/dicom-web", environ={USER_ENV: "u", PASSWORD_ENV: "p"})
    assert (basic.credentials.kind, basic.credentials.user) == ("basic", "u")
    assert PacsServer.configured(None) is None and PacsServer.configured("") is None
    with pytest.raises(InvalidInputError):
        PacsServer.configured("file:///etc/passwd")


def test_errors_name_the_pacs_not_its_address_or_credentials():
    server = PacsServer.configured("http://me:s3cret-pw@10.1.2.3:8042/dicom-web")
    error = DicomWebError("listing studies (QIDO-RS) failed: ConnectionError: HTTPConnectionPool(host='10.1.2.3', "
                          "port=8042): refused; s3cret-pw", server.base_url)
    message = str(server._hidden(error))
    assert message.startswith("PACS: listing studies (QIDO-RS) failed")
    assert "10.1.2.3" not in message and "8042/dicom-web" not in message and "s3cret" not in message


def test_candidate_rows_are_marked_with_their_lesion_probability_and_keep_no_second_opinion():
    from liverlesion.results import Lesion
    from liverlesion.web.table import candidate_rows

    candidate = Lesion(7, "cyst", 0.8, {"cyst": 0.8, "hemangioma": 0.1, "metastasis": 0.1}, 0.4, 9.0, 6.0,
                       (1.0, 2.0, 3.0), (-1.0, -2.0, 3.0), 12.0, (4, 6), 50, {"cyst": 0.9}, 0.234)
    (row,) = candidate_rows([candidate])
    assert row["cells"][:2] == ["C7", "candidate (p=0.23): cyst"] and row["cells"][-1] == ""
    assert (row["id"], row["lesion_probability"], row["label"]) == (7, 0.234, "candidate (p=0.23)")
