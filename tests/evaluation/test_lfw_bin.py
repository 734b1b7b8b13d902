"""insightface ``lfw.bin``: Python 2 and 3 pickles read back, and every pickle that is not plain bytes and
booleans refused without running anything."""
from __future__ import annotations

import io
import os
import pickle
import struct

import numpy as np
import pytest
from PIL import Image

from augmenter.errors import DatasetFormatError
from augmenter.io import decode_image_bytes
from evaluation.lfw_bin import kfold_blocks, read_lfw_bin


def jpeg(value: int, size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((size, size, 3), value, np.uint8)).save(buffer, format="JPEG")
    return buffer.getvalue()


def python2_pickle(bins: list[bytes], issame: list[bool]) -> bytes:
    """What Python 2's ``pickle.dump((bins, issame), f, protocol=2)`` writes for ``str`` images:
    BINSTRING opcodes, which Python 3 reads back as bytes only with ``encoding="bytes"``."""
    out = [b"\x80\x02", b"]q\x00(", *(b"T" + struct.pack("<I", len(b)) + b for b in bins), b"e",
           b"]q\x01(", *(b"\x88" if s else b"\x89" for s in issame), b"e", b"\x86q\x02."]
    return b"".join(out)


def tiny_bin(n_pairs: int = 20) -> tuple[list[bytes], list[bool]]:
    bins = [jpeg(10 * i % 250) for i in range(2 * n_pairs)]
    return bins, [i % 2 == 0 for i in range(n_pairs)]


def test_python2_and_python3_pickles_round_trip(tmp_path):
    bins, issame = tiny_bin()
    py2 = tmp_path / "py2.bin"
    py2.write_bytes(python2_pickle(bins, issame))
    with pytest.raises(UnicodeDecodeError):   # why the reader needs encoding="bytes"
        pickle.loads(py2.read_bytes())
    py3 = tmp_path / "py3.bin"
    with open(py3, "wb") as f:
        pickle.dump((bins, issame), f, protocol=pickle.HIGHEST_PROTOCOL)
    for path in (py2, py3):
        data = read_lfw_bin(path)
        assert data.images == bins and data.same.tolist() == issame and data.n_pairs == 20
        assert data.folds.tolist() == [k for k in range(10) for _ in range(2)]
        assert decode_image_bytes(data.images[3], "lfw.bin[3]").shape == (16, 16, 3)


def test_folds_are_kfold_blocks():
    assert kfold_blocks(6000).tolist() == np.repeat(np.arange(10), 600).tolist()
    assert np.bincount(kfold_blocks(23)).tolist() == [3, 3, 3, 2, 2, 2, 2, 2, 2, 2]


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickles_are_refused_without_running_them(tmp_path):
    marker = tmp_path / "pwned"
    bins, issame = tiny_bin()
    cases = {
        "reduce.bin": (pickle.dumps((bins[:-1] + [Exploit(marker)], issame), protocol=4), "refers to posix.system"),
        "reduce4.bin": (pickle.dumps(Exploit(marker), protocol=4), "refers to "),
        "numpy.bin": (pickle.dumps((bins, np.array(issame))), "refers to numpy"),
        "class.bin": (pickle.dumps((bins, [Exploit] * len(issame))), "refers to tests.evaluation.test_lfw_bin.Exploit"),
        "dict.bin": (pickle.dumps({"bins": bins, "issame": issame}), "holds a dict"),
        "ints.bin": (pickle.dumps((bins, [int(s) for s in issame])), r"issame\[0\] is a int"),
        "str.bin": (pickle.dumps(([b.hex() for b in bins], issame)), "image 0 is a str"),
        "lengths.bin": (pickle.dumps((bins[:-1], issame)), "39 images for 20 pairs"),
        "triple.bin": (pickle.dumps((bins, issame, None)), "holds a tuple"),
        "few.bin": (pickle.dumps((bins[:4], issame[:2])), "fewer than the 10 folds"),
        "truncated.bin": (pickle.dumps((bins, issame))[:-20], "not an lfw.bin pickle"),
        "text.bin": (b"hello, not a pickle", "not an lfw.bin pickle"),
    }
    for name, (payload, message) in cases.items():
        (tmp_path / name).write_bytes(payload)
        with pytest.raises(DatasetFormatError, match=message) as err:
            read_lfw_bin(tmp_path / name)
        assert str(err.value).startswith(str(tmp_path / name)) and "\n" not in str(err.value)
    assert not marker.exists()
    with pytest.raises(DatasetFormatError, match="not found"):
        read_lfw_bin(tmp_path / "missing.bin")
