"""Text cleaning, truncation and Belegfeld sanitising rules."""

from __future__ import annotations

import pytest

from ml_connector.mapping.text import (
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
