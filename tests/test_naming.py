"""Box names for campaigns and files: unique in their folder, stable, always acceptable to Box."""

from __future__ import annotations

import pytest

from campaign_handoff.naming import (
    BOX_NAME_LIMIT,
    box_file_names,
    campaign_folder_name,
    clean_text,
)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("Logo.png", "logo.png", id="case-only"),
        pytest.param("a\\b.pdf", "a-b.pdf", id="backslash-vs-dash"),
        pytest.param("brief.pdf ", "brief.pdf", id="trailing-space"),
        pytest.param("Cafe\u0301.jpg", "Caf\u00e9.jpg", id="nfd-vs-nfc"),
        pytest.param("two\nlines.txt", "two lines.txt", id="newline-vs-space"),
        pytest.param("x" * 300 + "1.mov", "x" * 300 + "2.mov", id="differ-after-255"),
        pytest.param("same.png", "same.png", id="duplicate-in-dam"),
    ],
)
def test_names_that_would_merge_in_box_get_distinct_names(first, second):
    named = box_file_names([("3f2a9c1e0000", first), ("7b11d4aa0000", second)])
    keys = {n.box_name.casefold() for n in named}
    assert len(keys) == 2
    assert all(len(n.box_name) <= BOX_NAME_LIMIT for n in named)
    assert all(n.renamed for n in named)
    assert {n.box_name.rsplit(".", 1)[-1] for n in named} == {first.rsplit(".", 1)[-1].strip()}


def test_the_outcome_does_not_depend_on_listing_order():
    pairs = [("aaaa1111", "Logo.png"), ("bbbb2222", "logo.png"), ("cccc3333", "other.png")]
    forward = {n.asset_id: n.box_name for n in box_file_names(pairs)}
    backward = {n.asset_id: n.box_name for n in box_file_names(reversed(pairs))}
    assert forward == backward
    assert forward["cccc3333"] == "other.png"
    assert forward["aaaa1111"] == "Logo (aaaa1111).png"


def test_ids_sharing_a_prefix_are_used_whole():
    named = box_file_names([("abcdefgh-1", "x.png"), ("abcdefgh-2", "X.png")])
    assert [n.box_name for n in named] == ["x (abcdefgh-1).png", "X (abcdefgh-2).png"]


def test_a_name_that_cleans_to_nothing_falls_back_to_the_asset_id():
    (named,) = box_file_names([("a-17", "   ")])
    assert named.box_name == "asset a-17"


@pytest.mark.parametrize(
    ("number", "name", "expected"),
    [
        pytest.param("CMP-1", "Brand/Launch", "CMP-1 - Brand-Launch", id="numbered"),
        pytest.param(None, "Brand/Launch", "Brand-Launch [c-9]", id="no-number-carries-the-id"),
        pytest.param(None, "..", ".. [c-9]", id="dots"),
        pytest.param(None, "   ", "[c-9]", id="spaces"),
    ],
)
def test_campaign_folder_names(number, name, expected):
    assert campaign_folder_name("c-9", number, name) == expected


def test_two_campaigns_without_numbers_never_share_a_folder_name():
    assert campaign_folder_name("c-1", None, "Brand/Launch") != campaign_folder_name(
        "c-2", None, "Brand-Launch"
    )


def test_clean_text_drops_nul_and_lone_surrogates():
    assert clean_text("a\x00b") == "ab"
    assert clean_text("bad \udc80 half") == "bad ? half"
    assert clean_text("Café 🌸") == "Café 🌸"


def test_an_absurdly_long_asset_id_still_gives_distinct_names_within_the_limit():
    named = box_file_names([("a" * 300, "Logo.png"), ("b" * 300, "logo.png")])
    assert len({n.box_name.casefold() for n in named}) == 2
    assert all(len(n.box_name) <= BOX_NAME_LIMIT and n.box_name.endswith(".png") for n in named)
