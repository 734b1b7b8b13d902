"""Shared CSV helpers: file content quoted in messages is escaped and short; a binary file named as CSV."""
from __future__ import annotations

import pytest

from augmenter.datasets.affectnet import read_affectnet
from augmenter.datasets.fer2013_csv import extract_fer2013_csv
from augmenter.errors import DatasetFormatError
from tests.datasets.fixtures import AFFECTNET_HEADER, affectnet_row, make_affectnet

BINARY = b"\x89PNG\r\x1a\n\x00\x00\x00\rIHDR\x00\x1b[31m\x07" + bytes(range(256)) * 40


def test_shown_escapes_control_characters_and_truncates():
    from augmenter.datasets._csv import shown

    assert shown("a,b\tc\x00\x1b[2J\u200b\x7f") == "a,b\\tc\\x00\\x1b[2J\\u200b\\x7f"
    assert shown("café, ok") == "café, ok"  # printable non-ASCII text stays readable
    assert shown("x" * 500, limit=20) == "x" * 20 + "..."
    assert shown("\x00" * 50, limit=10) == "\\x00" * 2 + "..."  # the limit counts what is shown


def _assert_clean_one_line(message: str, file_name: str) -> None:
    assert file_name in message and "\n" not in message and "\r" not in message
    assert all(c.isprintable() for c in message), repr(message)
    assert len(message) < 600


def test_header_with_control_bytes_is_escaped_in_the_error(tmp_path):
    root = make_affectnet(tmp_path, [affectnet_row("1/a.jpg")])
    header = AFFECTNET_HEADER.encode() + b"\x1b[2J\x00\x07 extra" + b"\x01" * 5000
    (root / "Manually_Annotated_file_lists" / "training.csv").write_bytes(header + b"\n1,2,3\n")
    with pytest.raises(DatasetFormatError, match="wrong header") as err:
        read_affectnet(root, splits=("train",))
    _assert_clean_one_line(str(err.value), "training.csv")
    assert "arousal\\x1b[2J\\x00\\x07 ex" in str(err.value) and str(err.value).endswith("...")


@pytest.mark.parametrize("content", [BINARY, b"\x00\x01\x02" * 100_000, BINARY[8:]],
                         ids=["png", "no-newline", "nul-first"])
def test_binary_file_given_as_csv(tmp_path, content):
    root = make_affectnet(tmp_path, [affectnet_row("1/a.jpg")])
    (root / "Manually_Annotated_file_lists" / "training.csv").write_bytes(content)
    csv = tmp_path / "fer2013.csv"
    csv.write_bytes(content)
    for read, name in ((lambda: read_affectnet(root, splits=("train",)), "training.csv"),
                       (lambda: extract_fer2013_csv(csv, tmp_path / "out"), "fer2013.csv")):
        with pytest.raises(DatasetFormatError, match="not a UTF-8 text CSV|wrong header") as err:
            read()
        _assert_clean_one_line(str(err.value), name)


def test_cells_with_control_bytes_are_escaped_in_skip_examples(tmp_path):
    root = make_affectnet(tmp_path, [affectnet_row("1/ok.jpg"), affectnet_row("1/a\x1b[2J.jpg", w="\x07-3"),
                                     affectnet_row("1/b\x00.txt")], images=["1/ok.jpg"])
    listing = read_affectnet(root, splits=("train",))
    examples = [e for reason in listing.skips.examples.values() for e in reason]
    assert examples and all(c.isprintable() for e in examples for c in e), examples
    assert listing.skips.examples["bad bbox"] == ["training.csv line 3: face_width=\\x07-3"]
