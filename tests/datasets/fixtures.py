"""Tiny datasets in their real on-disk formats, written into a test's tmp_path.

Images are real 8x8 files written with Pillow (the readers never decode them, but the formats stay
honest); CSVs carry the real headers.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

"""``<repo>/../shared/data``: the real Yale B and FER-2013 copies (absent on a user's machine)."""

AFFECTNET_HEADER = (
    "subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,expression,valence,arousal"
)
FER_HEADER = "emotion,pixels,Usage"


def write_image(path: Path, size: int = 8, value: int = 128) -> Path:
    """An 8x8 grey image in the format of ``path``'s suffix (``.pgm`` is written as binary PGM)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8), "L").save(path, format=_format(path))
    return path


def _format(path: Path) -> str:
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".pgm": "PPM", ".bmp": "BMP"}[path.suffix.lower()]


def write_text(path: Path, text: str = "not an image\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# --- CASIA-WebFace -------------------------------------------------------------------------------

def make_casia(root: Path, identities: dict[str, int] | None = None) -> Path:
    """``root/<identity>/<nnn>.jpg``; default two identities with 3 and 2 images."""
    for identity, n in (identities or {"0000045": 3, "0000099": 2}).items():
        for k in range(1, n + 1):
            write_image(root / identity / f"{k:03d}.jpg")
    return root


# --- AffectNet -----------------------------------------------------------------------------------

def landmark_text(n_values: int = 136, start: float = 10.0) -> str:
    return ";".join(f"{start + 0.5 * k:.2f}" for k in range(n_values))


def affectnet_row(rel: str, *, x="10", y="12", w="80", h="90", landmarks: str | None = None,
                  expression="1", valence="0.785714", arousal="-0.055556") -> str:
    lm = landmark_text() if landmarks is None else landmarks
    return ",".join([rel, str(x), str(y), str(w), str(h), lm, str(expression), valence, arousal])


def make_affectnet(root: Path, train: list[str], val: list[str] | None = None, *,
                   images: list[str] | None = None, header: str = AFFECTNET_HEADER) -> Path:
    """The file lists with ``train`` / ``val`` rows, and images for ``images`` (default: every row's path)."""
    lists = root / "Manually_Annotated_file_lists"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "training.csv").write_text("\n".join([header, *train]) + "\n")
    if val is not None:
        (lists / "validation.csv").write_text("\n".join([header, *val]) + "\n")
    if images is None:
        images = [row.split(",")[0] for row in [*train, *(val or [])]]
    for rel in images:
        target = root / "Manually_Annotated_Images" / rel
        write_text(target) if target.suffix == ".txt" else write_image(target)
    return root


# --- Multi-PIE -----------------------------------------------------------------------------------

def multipie_path(root: Path, subject: str, session: str, recording: str, camera: str, illumination: str) -> Path:
    name = f"{subject}_{session}_{recording}_{camera.replace('_', '')}_{illumination}.png"
    return root / f"session{session}" / "multiview" / subject / recording / camera / name


def make_multipie(root: Path, *, subjects=("001", "002"), takes=(("01", "01"), ("01", "02")),
                  cameras=("05_1",), illuminations=("00", "07", "19")) -> Path:
    """Every combination of subject x (session, recording) x camera x illumination, as PNGs."""
    for subject in subjects:
        for session, recording in takes:
            for camera in cameras:
                for illumination in illuminations:
                    write_image(multipie_path(root, subject, session, recording, camera, illumination))
    return root


# --- Extended Yale B -----------------------------------------------------------------------------

YALE_DIRECTIONS = ("A+000E+00", "A+035E+20", "A-035E+20", "A+130E+20", "A-130E+20", "A+000E-20")


def make_yaleb(root: Path, subjects=("yaleB01", "yaleB02"), directions=YALE_DIRECTIONS, ambient: bool = True) -> Path:
    for subject in subjects:
        for d in directions:
            write_image(root / subject / f"{subject}_P00{d}.pgm")
        if ambient:
            write_image(root / subject / f"{subject}_P00_Ambient.pgm", size=16)
    return root


def make_aligned_yaleb(root: Path, subjects=("yaleB01", "yaleB02"), directions=YALE_DIRECTIONS, ambient: bool = True,
                      twins: tuple[str, ...] = ()) -> Path:
    """The tree ``augment align`` writes from :func:`make_yaleb`'s: ``.pgm`` crops as ``.png``, with
    ``align.json`` and ``landmarks.csv`` at the root. A direction in ``twins`` also had a ``.png``
    source beside its ``.pgm``, so its ``.pgm`` crop is ``<name>.pgm.png`` (align's disambiguation)."""
    import csv
    import json

    from augmenter.align_tree import CSV_COLUMNS, CSV_NAME, SETTINGS_NAME

    sources = []
    for subject in subjects:
        names = [f"{subject}_P00{d}" for d in directions] + ([f"{subject}_P00_Ambient"] if ambient else [])
        sources += [(f"{subject}/{n}.pgm", f"{subject}/{n}.png") for n in names]
        sources += [(f"{subject}/{subject}_P00{d}.png", f"{subject}/{subject}_P00{d}.png") for d in twins]
    twin_names = {out for src, out in sources if src.endswith(".png")}
    rows = []
    for src, out in sorted(sources):
        if src.endswith(".pgm") and out in twin_names:
            out = src + ".png"
        write_image(root / out)
        box, marks = ["1.000", "1.000", "7.000", "7.000"], ["3.000"] * 10
        rows.append([src, "True", "0.999000", "1", *box, *marks, out])
    (root / SETTINGS_NAME).write_text(json.dumps({"image_size": 8, "csv_columns": list(CSV_COLUMNS)}) + "\n")
    with open(root / CSV_NAME, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows([list(CSV_COLUMNS), *rows])
    return root


# --- FER-2013 ------------------------------------------------------------------------------------

def make_fer_folders(root: Path, counts: dict[tuple[str, str], int] | None = None) -> Path:
    """``root/<split>/<emotion>/<Prefix>_<k>.jpg``; default a few images in train and validation."""
    counts = counts or {("train", "angry"): 2, ("train", "happy"): 3, ("validation", "disgust"): 1, ("test", "sad"): 1}
    prefix = {"train": "Training", "validation": "PublicTest", "test": "PrivateTest"}
    for (split, emotion), n in counts.items():
        for k in range(n):
            write_image(root / split / emotion / f"{prefix[split]}_{1000 + k}.jpg")
    return root


def fer_pixels(seed: int = 0, n: int = 48 * 48) -> str:
    values = np.random.default_rng(seed).integers(0, 256, n)
    return " ".join(map(str, values))


def make_fer_csv(path: Path, rows: list[tuple[str, str, str]], header: str = FER_HEADER) -> Path:
    """``fer2013.csv`` with ``(emotion, pixels, Usage)`` rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *(",".join(r) for r in rows)]) + "\n")
    return path
