"""The run's key index finds every repeated row key and Belegfeld 1, however rare."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ml_connector.mapping.scratch import KeyIndex

keys = st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=300)


#: (first, most) filter bits: tiny and never growing (nearly every key is a "maybe"),
#: tiny and growing three times, and the default
FILTERS = st.sampled_from([(8, 8), (8, 512), (1 << 19, 1 << 24)])


def _index(directory: str, bits: tuple[int, int]) -> KeyIndex:
    return KeyIndex(Path(directory) / "keys.sqlite", filter_bits=bits[0], most_filter_bits=bits[1])


@settings(max_examples=150, deadline=None)
@given(row_keys=keys, filter_bits=FILTERS)
def test_a_repeated_row_key_names_its_first_row(
    row_keys: list[str], filter_bits: tuple[int, int]
) -> None:
    """With a tiny filter nearly every key is a "maybe", with the default nearly none,
    and a growing one asks its older filters too: either way each repeat names the
    first row and no new key is taken for a repeat."""
    first: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        index = _index(tmp, filter_bits)
        try:
            for number, key in enumerate(row_keys):
                assert index.see(key, number, mapped=number % 3 != 0) == first.get(key)
                first.setdefault(key, number)
        finally:
            index.close()


@settings(max_examples=150, deadline=None)
@given(
    documents=st.lists(
        st.tuples(st.sampled_from(["RE-1", "RE-2", "re-1", "RE-3"]), st.sampled_from("abc")),
        min_size=1,
        max_size=300,
    ),
    filter_bits=FILTERS,
)
def test_a_belegfeld_reached_from_another_source_names_the_first(
    documents: list[tuple[str, str]], filter_bits: tuple[int, int]
) -> None:
    first: dict[str, tuple[str, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        index = _index(tmp, filter_bits)
        try:
            for number, (cleaned, source) in enumerate(documents):
                earlier = first.get(cleaned)
                expected = None if earlier is None or earlier[0] == source else earlier
                assert index.document(cleaned, source, number) == expected
                first.setdefault(cleaned, (source, number))
        finally:
            index.close()


def test_keys_posted_before_and_not_mapped_now_are_found_after_thousands_of_rows(
    tmp_path: Path,
) -> None:
    """Gone and held keys are read after more first uses than are kept in memory."""
    index = KeyIndex(tmp_path / "keys.sqlite")
    try:
        for number in range(3):
            index.add_posted(f"posted-{number}", "v2:x", "[]")
        for number in range(5_000):
            index.see(f"row-{number}", number, mapped=True)
        index.see("posted-1", 5_000, mapped=False)  # held now
        index.see("posted-2", 5_001, mapped=True)  # mapped now
        assert list(index.not_mapped()) == [("posted-0", "[]", False), ("posted-1", "[]", True)]
    finally:
        index.close()


def test_filter_sizes_are_powers_of_two_growing_to_the_most(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="powers of two"):
        KeyIndex(tmp_path / "keys.sqlite", filter_bits=1000)
    with pytest.raises(ValueError, match="must not exceed"):
        KeyIndex(tmp_path / "keys.sqlite", filter_bits=1 << 20, most_filter_bits=1 << 19)
