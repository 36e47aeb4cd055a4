"""Text cleaning, truncation and Belegfeld sanitising rules."""

from __future__ import annotations

import pytest

from ml_connector.mapping.text import (
    DataChange,
    DataChangeKind,
    TextRuleError,
    clean_text,
    fit_document_number,
    fit_free_text,
)


def test_clean_text_normalises_to_nfc_and_removes_control_characters() -> None:
    assert clean_text("Bankgebu\u0308hren\r\n  Oktober\t2026 ") == "Bankgebühren Oktober 2026"


def test_clean_text_replaces_characters_windows_1252_cannot_hold() -> None:
    assert clean_text("Umsatz \u2713 € “x”") == "Umsatz ? € “x”"


def test_free_text_truncates_or_rejects() -> None:
    long = "x" * 61
    assert fit_free_text(long, 60) == "x" * 60
    with pytest.raises(TextRuleError) as info:
        fit_free_text(long, 60, "reject")
    assert info.value.reason == "too_long"


def test_document_number_sanitising_is_explicit() -> None:
    assert fit_document_number("RE 2026_10.Müller/ß", 36) == "RE-2026-10-Mueller/ss"
    assert fit_document_number("2026-10|IT|OPS", 36) == "2026-10ITOPS"
    assert fit_document_number("Ärger#1", 36) == "Aerger1"


def test_document_number_with_reject_policy_names_the_characters() -> None:
    with pytest.raises(TextRuleError, match="not allowed") as info:
        fit_document_number("RE 1", 36, charset="reject")
    assert info.value.reason == "invalid_characters"


def test_document_number_too_long_is_rejected_unless_truncation_is_chosen() -> None:
    with pytest.raises(TextRuleError):
        fit_document_number("A" * 37, 36)
    assert fit_document_number("A" * 37, 36, overflow="truncate") == "A" * 36


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Łódź", "Lodz"),  # the whole word is transliterated, not "Lódz"
        ("Müller Straße", "Müller Straße"),  # Windows-1252 has ü and ß: kept
        ("Dvořák \u2010 Genève", "Dvorak - Genève"),
        ("„Zitat“ – 5 €", "„Zitat“ – 5 €"),  # typographic quotes and dashes are in cp1252
        ("Ga\u0308rtnerei", "Gärtnerei"),  # NFD -> NFC first, nothing to replace
        ("Kaffee \u2615", "Kaffee ?"),  # a symbol has no transliteration: last resort
    ],
)
def test_characters_windows_1252_lacks_are_transliterated(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected
    expected.encode("cp1252")


def test_only_real_changes_are_recorded() -> None:
    changes: list[DataChange] = []
    assert clean_text("Ga\u0308rtnerei  Nord ", "buchungstext", changes) == "Gärtnerei Nord"
    assert changes == []
    clean_text("Zeile 1\nZeile 2 Łódź", "buchungstext", changes)
    (change,) = changes
    assert change.kind is DataChangeKind.CHARACTERS_REPLACED
    assert change.after == "Zeile 1 Zeile 2 Lodz"
    assert "control characters" in change.note


def test_document_number_transliterates_letters_beyond_umlauts() -> None:
    changes: list[DataChange] = []
    assert fit_document_number("FV/Łódź 7", 36, changes=changes) == "FV/Lodz-7"
    (change,) = changes
    assert (change.kind, change.before, change.after) == (
        DataChangeKind.DOCUMENT_NUMBER_CLEANED,
        "FV/Łódź 7",
        "FV/Lodz-7",
    )
    assert fit_document_number("FV/7", 36, changes=changes) == "FV/7"
    assert len(changes) == 1
