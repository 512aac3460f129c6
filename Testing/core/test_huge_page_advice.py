"""The command line switches NumPy's huge-page advice off for its own process, unless the user chose."""

from __future__ import annotations

import pytest
from liverlesion.cli.huge_pages import NUMPY_SWITCH, stop_huge_page_advice
from numpy._core.multiarray import _set_madvise_hugepage


@pytest.fixture
def advice_restored():
    before = _set_madvise_hugepage(True)
    _set_madvise_hugepage(before)
    yield
    _set_madvise_hugepage(before)


def test_advice_is_switched_off_when_the_user_set_nothing(monkeypatch, advice_restored):
    monkeypatch.delenv(NUMPY_SWITCH, raising=False)
    _set_madvise_hugepage(True)
    assert stop_huge_page_advice() is True
    assert _set_madvise_hugepage(True) is False  # returns the setting it replaces


def test_the_users_numpy_setting_stands(monkeypatch, advice_restored):
    monkeypatch.setenv(NUMPY_SWITCH, "1")
    _set_madvise_hugepage(True)
    assert stop_huge_page_advice() is False
    assert _set_madvise_hugepage(True) is True


def test_the_command_line_entry_point_switches_it_off(monkeypatch, advice_restored):
    from liverlesion.cli.main import main

    monkeypatch.delenv(NUMPY_SWITCH, raising=False)
    _set_madvise_hugepage(True)
    assert main([]) != 0  # no subcommand: usage and the bad-input exit code, after the switch
    assert _set_madvise_hugepage(True) is False
