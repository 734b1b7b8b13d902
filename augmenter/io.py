"""The toolkit's one image decoder, and an atomic image writer.

Every reader and the alignment code decode through :func:`decode_image` (or
:func:`decode_image_bytes` for in-memory data), so all of them accept the same formats
and fail the same way: any file that cannot be turned into pixels raises
:class:`augmenter.errors.ImageDecodeError`, whose ``str`` is one line ``"<path>: <reason>"``.
No raw Pillow / ``OSError`` escapes.

Conventions of the returned arrays (always C-contiguous, writeable, owning their data):

* ``mode="RGB"``: shape ``(H, W, 3)``, dtype ``uint8``, values 0..255, channel order R, G, B.
* ``mode="L"``:   shape ``(H, W)``,    dtype ``uint8``, values 0..255 (ITU-R 601-2 luma for
  colour sources, as Pillow's ``convert("L")``).

Conversions applied, whatever the file holds:

* EXIF orientation (tags 2..8) is applied, so the array is upright as a viewer shows it.
* Grey (``L``, ``1``) is replicated to three equal channels for ``mode="RGB"``.
* Alpha (``RGBA``, ``LA``, ``PA``, palette with transparency) is composited over **black**:
  ``out = round(colour * alpha / 255)``. Black is the value the alignment warp pads with
  (``cv2.warpAffine`` border 0), so transparent areas look like the padding around a face,
  and the result does not depend on the colour stored under fully transparent pixels.
* ``CMYK`` (including Adobe inverted CMYK JPEG), ``YCbCr``, palette ``P`` -> RGB via Pillow.
* 16-bit samples (``I;16``, ``I;16B``, ``I`` from 16-bit PNG / PGM, PGM with any maxval
  above 255, which Pillow stretches to 0..65535) are scaled over the full 16-bit range with
  rounding: ``out = round(v * 255 / 65535)``, so 65535 -> 255, 32768 -> 128, 257 -> 1.
  Nothing is clipped and the data are not contrast-stretched. 16-bit *colour* PNG / PPM are
  reduced to 8 bits by Pillow itself (it keeps the high byte).
* Multi-frame files (animated WebP, multi-page TIFF): the first frame.

Only in-process raster decoders are tried (JPEG incl. MPO, PNG, PPM/PGM/PNM, BMP, WebP, TIFF, GIF):
e.g. an EPS file named ``.jpg`` is "not an image file", never handed to Ghostscript.

Truncated files raise because ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` is left off; this module
never sets it, and code that sets it process-wide disables that check here too.

Size guard: ``width * height`` is read from the header and checked against ``max_pixels``
before any pixel is decoded. Pillow's own decompression-bomb guard
(``PIL.Image.MAX_IMAGE_PIXELS``, ~89 MP by default) still applies on top and is reported the
same way, so the effective limit is ``min(max_pixels, PIL.Image.MAX_IMAGE_PIXELS)``; raise or
clear Pillow's global to go beyond it.
"""
from __future__ import annotations

import io
import os
import stat
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from augmenter.atomic import atomic_path
from augmenter.skips import SkipReport
from augmenter.errors import ImageDecodeError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "decode_image",
    "decode_image_bytes",
    "iter_images",
    "write_image_atomic",
]

#: Largest ``width * height`` accepted by default (80 megapixels).
DEFAULT_MAX_PIXELS: int = 80_000_000

#: Lower-case file suffixes recognised as images.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".pgm", ".ppm", ".pnm", ".bmp", ".webp", ".tif", ".tiff"}
)

# Skip-report categories used by iter_images (and carried by each raised error as
# ``err.category``).
_MISSING = "missing file"
_UNREADABLE = "unreadable image"
_TOO_LARGE = "image too large"

_MODES = ("RGB", "L")

# Raster formats Pillow decodes in-process. Restricting Image.open to them keeps e.g. an EPS
# file named ".jpg" away from Ghostscript; anything else is "not an image file".
_PIL_FORMATS = ("JPEG", "PNG", "PPM", "BMP", "WEBP", "TIFF", "GIF")
_EXIF_ORIENTATION = 0x0112

# 16-bit -> 8-bit lookup table: round(v * 255 / 65535), exact in integers.
_LUT16 = ((np.arange(65536, dtype=np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


# --------------------------------------------------------------------------- decoding


def decode_image(
    path: str | os.PathLike, mode: str = "RGB", max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode the image file ``path`` to a uint8 array.

    Args:
        path: a JPEG, PNG, PGM/PPM/PNM, BMP, WebP, TIFF (or GIF) file; the content decides
            the format, not the suffix.
        mode: ``"RGB"`` -> ``(H, W, 3)`` uint8 RGB; ``"L"`` -> ``(H, W)`` uint8 grey.
        max_pixels: largest ``width * height`` accepted, checked on the header before
            decoding; ``None`` leaves only Pillow's own limit.

    Returns:
        A new C-contiguous, writeable uint8 array with values 0..255 (see module docstring
        for alpha, 16-bit, CMYK and EXIF handling).

    Raises:
        ImageDecodeError: missing file, directory, empty file, not an image, corrupt or
            truncated data, unsupported pixel mode, or more than ``max_pixels`` pixels.
            ``str(err)`` is ``"<path>: <reason>"`` on one line.
        ValueError: ``mode`` is neither ``"RGB"`` nor ``"L"``.

    Example:
        >>> img = decode_image("yaleB01_P00A+000E+00.pgm")      # doctest: +SKIP
        >>> img.shape, img.dtype                                 # doctest: +SKIP
        ((192, 168, 3), dtype('uint8'))
    """
    _check_args(mode, max_pixels)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _fail(path, "no such file", _MISSING) from None
    except OSError as exc:  # permission denied on a parent, name too long, loop...
        raise _fail(path, f"cannot stat: {_os_reason(exc)}", _UNREADABLE) from None
    if stat.S_ISDIR(st.st_mode):
        raise _fail(path, "is a directory, not an image file", _UNREADABLE)
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block open(); devices are not images
        raise _fail(path, "not a regular file", _UNREADABLE)
    if st.st_size == 0:
        raise _fail(path, "empty file (0 bytes)", _UNREADABLE)
    try:
        f = open(path, "rb")
    except FileNotFoundError:  # removed since the stat
        raise _fail(path, "no such file", _MISSING) from None
    except OSError as exc:  # permission denied, ...
        raise _fail(path, f"cannot open: {_os_reason(exc)}", _UNREADABLE) from None
    with f:
        return _decode_stream(f, path, mode, max_pixels)


def decode_image_bytes(
    data: bytes | bytearray | memoryview,
    name: str,
    mode: str = "RGB",
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Decode an encoded image held in memory (e.g. the JPEG bytes of insightface ``lfw.bin``).

    Same conversions, return value and errors as :func:`decode_image`; ``name`` stands for
    the path in error messages (e.g. ``"lfw.bin[17]"``).

    Example:
        >>> img = decode_image_bytes(jpeg_bytes, "lfw.bin[0]")  # doctest: +SKIP
        >>> img.shape                                           # doctest: +SKIP
        (112, 112, 3)
    """
    _check_args(mode, max_pixels)
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes-like, not {type(data).__name__}")
    if len(data) == 0:
        raise _fail(name, "empty data (0 bytes)", _UNREADABLE)
    return _decode_stream(io.BytesIO(data), name, mode, max_pixels)


def iter_images(
    paths: Iterable[str | os.PathLike],
    mode: str = "RGB",
    skips: SkipReport | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> Iterator[tuple[Path, np.ndarray]]:
    """Decode many files, yielding ``(Path(path), array)`` for each readable one, in order.

    With a ``skips`` report, a bad file does not stop the batch: it is recorded as
    ``skips.add(category, "<path>: <reason>")`` with category ``"missing file"``,
    ``"image too large"`` or ``"unreadable image"``. With ``skips=None`` nothing is dropped
    silently: the first bad file raises :class:`ImageDecodeError`.

    Example:
        >>> skips = SkipReport()
        >>> for p, img in iter_images(sorted(Path("faces").glob("*.png")), skips=skips):
        ...     pass                                             # doctest: +SKIP
        >>> print(skips.summary())                               # doctest: +SKIP
    """
    _check_args(mode, max_pixels)
    for p in paths:
        try:
            img = decode_image(p, mode=mode, max_pixels=max_pixels)
        except ImageDecodeError as err:
            if skips is None:
                raise
            skips.add(getattr(err, "category", _UNREADABLE), str(err))
            continue
        yield Path(p), img


def _check_args(mode: str, max_pixels: int | None) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, not {mode!r}")
    if max_pixels is not None and (not isinstance(max_pixels, int) or max_pixels <= 0):
        raise ValueError(f"max_pixels must be a positive int or None, not {max_pixels!r}")


def _fail(name: str | os.PathLike, reason: str, category: str) -> ImageDecodeError:
    """Build the error; ``category`` is the skip-report bucket iter_images uses."""
    err = ImageDecodeError(name, " ".join(reason.split()))  # one line, whatever Pillow said
    err.category = category
    return err


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _decode_stream(fp, name, mode: str, max_pixels: int | None) -> np.ndarray:
    """Open, size-check, load, orient and convert; every Pillow failure -> ImageDecodeError."""
    with warnings.catch_warnings():
        # Pillow warns (rather than raises) between 1x and 2x MAX_IMAGE_PIXELS: make it an error.
        # (catch_warnings is process-global state; decode from processes, not threads, if
        # an exact warnings-filter restore matters.)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(fp, formats=_PIL_FORMATS)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _fail(name, f"image too large: {exc}", _TOO_LARGE) from None
        except UnidentifiedImageError:
            raise _fail(name, "not an image file, or an unsupported format", _UNREADABLE) from None
        except Exception as exc:  # Pillow plugins raise OSError, SyntaxError, ValueError...
            reason = f"corrupt or truncated image header: {_exc_reason(exc)}"
            raise _fail(name, reason, _UNREADABLE) from None

        with im:
            width, height = im.size
            if width <= 0 or height <= 0:
                raise _fail(name, f"empty image ({width}x{height})", _UNREADABLE)
            if max_pixels is not None and width * height > max_pixels:
                raise _fail(
                    name,
                    f"image too large: {width}x{height} = {width * height} pixels "
                    f"exceeds the limit of {max_pixels}",
                    _TOO_LARGE,
                )
            try:
                im.load()  # LOAD_TRUNCATED_IMAGES is left off: truncated data raises here
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise _fail(name, f"image too large: {exc}", _TOO_LARGE) from None
            except Exception as exc:
                raise _fail(
                    name, f"corrupt or truncated image data: {_exc_reason(exc)}", _UNREADABLE
                ) from None
            try:
                im = _apply_orientation(im)
                return _to_rgb(im) if mode == "RGB" else _to_l(im)
            except ImageDecodeError:
                raise
            except _UnsupportedMode as exc:
                raise _fail(name, str(exc), _UNREADABLE) from None
            except Exception as exc:
                reason = f"cannot convert pixels: {_exc_reason(exc)}"
                raise _fail(name, reason, _UNREADABLE) from None


def _exc_reason(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


def _apply_orientation(im: Image.Image) -> Image.Image:
    """Rotate/flip per the EXIF Orientation tag; an unparsable EXIF block is ignored."""
    try:
        orientation = im.getexif().get(_EXIF_ORIENTATION)
    except Exception:  # a broken EXIF block must not make the pixels unreadable
        return im
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        ImageOps.exif_transpose(im, in_place=True)
    return im


class _UnsupportedMode(Exception):
    pass


def _sixteen_bit(im: Image.Image) -> np.ndarray:
    """(H, W) uint8 from a 16-bit (or 16-bit-valued ``I``) image: round(v * 255 / 65535)."""
    a = np.asarray(im)
    if a.dtype != np.uint16:
        lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
        if lo < 0 or hi > 65535:
            raise _UnsupportedMode(
                f"unsupported pixel mode {im.mode!r} with values {lo}..{hi} (expected 0..65535)"
            )
        a = a.astype(np.uint16)  # values checked above: no wrap-around
    return _LUT16[a]


def _composite_over_black(im: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 RGB of an image with alpha, composited over black."""
    rgba = np.asarray(im.convert("RGBA"))
    alpha = rgba[..., 3:]
    if alpha.min() == 255:  # opaque: nothing to blend
        return np.ascontiguousarray(rgba[..., :3])
    out = rgba[..., :3].astype(np.uint16)
    out *= alpha
    out += 127
    out //= 255
    return out.astype(np.uint8)


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)


def _to_rgb(im: Image.Image) -> np.ndarray:
    m = im.mode
    if m == "RGB":
        return np.array(im)  # one copy: np.asarray(im) would be read-only
    if m in ("L", "1") or m.startswith("I"):
        g = np.array(im.convert("L")) if m in ("L", "1") else _sixteen_bit(im)
        return np.repeat(g[:, :, None], 3, axis=2)
    if m == "LA":
        g = _composite_grey_alpha(im)
        return np.repeat(g[:, :, None], 3, axis=2)
    if _has_alpha(im):
        return _composite_over_black(im)
    if m in ("RGBa", "La"):  # premultiplied alpha == already composited over black
        a = np.asarray(im)
        return np.ascontiguousarray(a[..., :3]) if m == "RGBa" else np.repeat(a[..., :1], 3, axis=2)
    if m == "F":
        raise _UnsupportedMode("unsupported pixel mode 'F' (32-bit float)")
    try:
        rgb = im.convert("RGB")  # P, CMYK (incl. Adobe inverted), YCbCr, RGBX, ...
    except ValueError:
        raise _UnsupportedMode(f"unsupported pixel mode {m!r}") from None
    return np.array(rgb)


def _composite_grey_alpha(im: Image.Image) -> np.ndarray:
    la = np.asarray(im)
    g, a = la[..., 0], la[..., 1]
    if a.min() == 255:
        return np.ascontiguousarray(g)
    out = g.astype(np.uint16)
    out *= a
    out += 127
    out //= 255
    return out.astype(np.uint8)


def _to_l(im: Image.Image) -> np.ndarray:
    m = im.mode
    if m == "L":
        return np.array(im)
    if m == "1":
        return np.array(im.convert("L"))
    if m.startswith("I"):
        return _sixteen_bit(im)
    if m == "LA":
        return _composite_grey_alpha(im)
    if m == "F":
        raise _UnsupportedMode("unsupported pixel mode 'F' (32-bit float)")
    if m == "RGB":
        return np.array(im.convert("L"))
    # everything else goes through the RGB path (alpha over black, CMYK, palette...)
    return np.array(Image.fromarray(_to_rgb(im), "RGB").convert("L"))


# --------------------------------------------------------------------------- writing

_SAVE_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".pgm": "PPM",
    ".ppm": "PPM",
    ".pnm": "PPM",
    ".bmp": "BMP",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
}


def write_image_atomic(path: str | os.PathLike, image: np.ndarray, quality: int = 95) -> None:
    """Write ``image`` to ``path`` so that ``path`` is either the old file or the complete new one.

    The format follows the suffix (any of :data:`IMAGE_EXTENSIONS`); ``quality`` (1..100)
    applies to JPEG and WebP (WebP is written lossy; PNG, PGM/PPM, BMP, TIFF are lossless).
    Parent folders are created; the write goes through :func:`augmenter.atomic.atomic_path`
    (no fsync: this guards against an interrupted job, not a power cut).

    Args:
        path: destination file.
        image: ``(H, W, 3)`` uint8 RGB or ``(H, W)`` uint8 grey. ``.pgm`` takes grey only.

    Raises:
        ValueError / TypeError: unknown suffix, wrong shape or dtype, RGB to ``.pgm``.
        OSError: the file system refused (disk full, permission...).

    Example:
        >>> face = np.zeros((112, 112, 3), np.uint8)
        >>> write_image_atomic("out/faces/0001.png", face)     # doctest: +SKIP
    """
    path = Path(path)
    suffix = path.suffix.lower()
    fmt = _SAVE_FORMATS.get(suffix)
    if fmt is None:
        raise ValueError(
            f"{path}: unknown image suffix {path.suffix!r}; use one of {sorted(_SAVE_FORMATS)}"
        )
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8, not {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise ValueError(f"image must be (H, W) or (H, W, 3), not {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"image is empty: shape {image.shape}")
    if suffix == ".pgm" and image.ndim == 3:
        raise ValueError(f"{path}: a .pgm file holds grey images only; pass (H, W) or use .ppm")
    if not 1 <= int(quality) <= 100:
        raise ValueError(f"quality must be in 1..100, not {quality}")

    pil = Image.fromarray(np.ascontiguousarray(image), "L" if image.ndim == 2 else "RGB")
    options: dict = {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = int(quality)

    with atomic_path(path) as tmp:
        pil.save(tmp, format=fmt, **options)
