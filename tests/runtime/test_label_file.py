"""labels.txt: one reader and one writer for the dataset and the checkpoint directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.errors import UsageError
from runtime.label_file import read_labels, write_labels


def test_round_trip_ignores_blank_lines_and_spaces(tmp_path: Path) -> None:
    write_labels(tmp_path, ["sea", "sun"])
    assert (tmp_path / "labels.txt").read_text() == "sea\nsun\n"
    (tmp_path / "labels.txt").write_text("sea\n\n sun \n")
    assert read_labels(tmp_path, "dataset") == ["sea", "sun"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "labels.txt is missing: .* is not a complete checkpoint directory"),
        (b"\n \n", "labels.txt holds no labels"),
        (b"\xff\xfe", "labels.txt is damaged"),
    ],
)
def test_bad_labels_file_is_a_usage_error(tmp_path: Path, content: bytes | None, message: str):
    if content is not None:
        (tmp_path / "labels.txt").write_bytes(content)
    with pytest.raises(UsageError, match=message):
        read_labels(tmp_path, "checkpoint")
