"""LFW-format pair lists (pairs.txt, pairsDevTrain.txt) and first,second,same CSV pair lists."""
from __future__ import annotations

import pytest

from augmenter.datasets.pairs import Pair, read_pairs, write_pair_csv, write_pairs
from augmenter.errors import DatasetFormatError

TWO_FOLDS = """2\t1
Aaron_Peirsol\t1\t2
Aaron_Peirsol\t3\tAbdullah_Gul\t12
Zico\t2\t3
Zico 1 Abba_Eban 1
"""


def test_lfw_pairs_with_folds(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text(TWO_FOLDS)
    root = tmp_path / "lfw"
    pairs = read_pairs(path, root)
    assert [(p.first, p.second, p.same, p.fold) for p in pairs] == [
        (root / "Aaron_Peirsol" / "Aaron_Peirsol_0001.jpg", root / "Aaron_Peirsol" / "Aaron_Peirsol_0002.jpg", True, 0),
        (root / "Aaron_Peirsol" / "Aaron_Peirsol_0003.jpg", root / "Abdullah_Gul" / "Abdullah_Gul_0012.jpg", False, 0),
        (root / "Zico" / "Zico_0002.jpg", root / "Zico" / "Zico_0003.jpg", True, 1),
        (root / "Zico" / "Zico_0001.jpg", root / "Abba_Eban" / "Abba_Eban_0001.jpg", False, 1),  # spaces work too
    ]
    assert read_pairs(path, root, suffix=".png")[0].first.name == "Aaron_Peirsol_0001.png"


def test_one_fold_header(tmp_path):
    path = tmp_path / "pairsDevTest.txt"
    path.write_text("3\nA 1 2\nB 1 4\nC 2 3\nA 1 B 1\nB 2 C 1\nC 3 A 2\n\n")
    pairs = read_pairs(path, tmp_path)
    assert [p.same for p in pairs] == [True] * 3 + [False] * 3
    assert {p.fold for p in pairs} == {0}
    assert pairs[4].first == tmp_path / "B" / "B_0002.jpg" and pairs[4].second == tmp_path / "C" / "C_0001.jpg"


@pytest.mark.parametrize("text, message", [
    ("ten 300\nA 1 2\nA 1 B 1\n", "line 1: header 'ten 300'"),
    ("\n2 1 1\nA 1 2\nA 1 B 1\n", "line 2: header '2 1 1'"),          # blank lines keep the file's numbering
    ("0\n", "line 1: header '0'"),
    ("1 2\nA 1 2\nA 1 B 1\n", "the header promises 4 pairs"),        # wrong count
    ("1 1\n\nA 1 2 3\nA 1 B 1\n", "line 3: 'A 1 2 3' is not 'name n1 n2' (same person)"),
    ("1 1\nA 1 2\nA one B 1\n", "line 3: 'A one B 1' is not 'name1 n1 name2 n2' (different people)"),
    ("", "empty pairs file"),
])
def test_malformed_lfw_lists_name_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "pairs.txt"
    path.write_text(text)
    with pytest.raises(DatasetFormatError) as err:
        read_pairs(path, tmp_path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_pairs_file(tmp_path):
    with pytest.raises(DatasetFormatError, match="unreadable pairs file"):
        read_pairs(tmp_path / "nowhere.txt", tmp_path)


def test_write_pairs_round_trips(tmp_path):
    folds = [([("A", 1, 2)], [("A", 1, "B", 3)]), ([("C", 4, 5)], [("C", 1, "D", 1)])]
    path = write_pairs(tmp_path / "pairs.txt", folds)
    assert path.read_text().splitlines()[0] == "2\t1"
    pairs = read_pairs(path, tmp_path)
    assert [(p.first.name, p.second.name, p.same, p.fold) for p in pairs] == [
        ("A_0001.jpg", "A_0002.jpg", True, 0), ("A_0001.jpg", "B_0003.jpg", False, 0),
        ("C_0004.jpg", "C_0005.jpg", True, 1), ("C_0001.jpg", "D_0001.jpg", False, 1),
    ]
    with pytest.raises(ValueError, match="same number"):
        write_pairs(tmp_path / "bad.txt", [([("A", 1, 2)], [])])


def test_csv_pair_lists_round_trip(tmp_path):
    root = tmp_path / "yale"
    pairs = [
        Pair(root / "yaleB01" / "yaleB01_P00A+000E+00.pgm", root / "yaleB01" / "yaleB01_P00A+035E+20.pgm", True, 0),
        Pair(root / "yaleB01" / "yaleB01_P00A+000E+00.pgm", root / "yaleB02" / "yaleB02_P00A-035E+20.pgm", False, 0),
        Pair(root / "yaleB02" / "a.pgm", root / "yaleB02" / "b.pgm", True, 3),
    ]
    path = write_pair_csv(tmp_path / "pairs.csv", pairs, root)
    lines = path.read_text().splitlines()
    assert lines[0] == "first,second,same,fold"
    assert lines[1] == "yaleB01/yaleB01_P00A+000E+00.pgm,yaleB01/yaleB01_P00A+035E+20.pgm,1,0"  # relative to root
    assert read_pairs(path, root) == pairs


def test_csv_without_fold_column_and_with_absolute_paths(tmp_path):
    other = tmp_path / "elsewhere" / "x.png"
    path = tmp_path / "pairs.csv"
    path.write_text(f"first,second,same\na.png,b.png,1\n\n{other},c.png,false\n")
    pairs = read_pairs(path, tmp_path / "root")
    assert pairs == [Pair(tmp_path / "root" / "a.png", tmp_path / "root" / "b.png", True, 0),
                     Pair(other, tmp_path / "root" / "c.png", False, 0)]


@pytest.mark.parametrize("text, message", [
    ("a,b,same\nx,y,1\n", "expected the header first,second,same[,fold]"),
    ("first,second,same\nx,y,maybe\n", "line 2: 'x,y,maybe' is not first,second,same(1/0)"),
    ("first,second,same,fold\nx,y,1,0\nx,y,0,two\n", "line 3: 'x,y,0,two' is not first,second,same(1/0),fold"),
    ("first,second,same\nx,y\n", "line 2:"),
    ("first,second,same\n", "no pairs"),
])
def test_malformed_csv_pair_lists(tmp_path, text, message):
    path = tmp_path / "pairs.csv"
    path.write_text(text)
    with pytest.raises(DatasetFormatError) as err:
        read_pairs(path, tmp_path)
    assert message in str(err.value) and "pairs.csv" in str(err.value)


def test_csv_round_trip_with_a_comma_in_a_path(tmp_path):
    root = tmp_path / "faces"
    pairs = [Pair(root / "Smith, John" / "1.jpg", root / "Smith, John" / "2.jpg", True, 0)]
    assert read_pairs(write_pair_csv(tmp_path / "pairs.csv", pairs, root), root) == pairs
