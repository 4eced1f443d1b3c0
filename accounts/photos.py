"""Profile photos: what an upload must be, and the clean copy that is stored.

An upload is judged by what Pillow decodes, never by its name or declared type:
JPEG, PNG or WebP only, at most MAX_BYTES, neither side over MAX_SIDE pixels. The
size is read from the header before anything is decoded, so a small file that
would unpack into gigabytes (a decompression bomb) is refused unread. What is
stored is a re-encoding of the decoded picture (EXIF orientation applied, then no
EXIF, no ICC or text chunks, nothing but the pixels) under a random name.
"""

import secrets
from io import BytesIO

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageOps

MAX_BYTES = 5 * 1024 * 1024  # 5 MiB
MAX_SIDE = 4096
# Pillow's own guard against decompression bombs, at our bound: a header claiming
# more pixels than this warns, twice as many raises, before a pixel is read.
Image.MAX_IMAGE_PIXELS = MAX_SIDE * MAX_SIDE

# Decoded format -> (stored extension, Pillow save options, modes it stores as they are).
# Re-encoding a 4096x4096 picture takes about 0.2 s (JPEG) to 0.6 s (PNG, WebP at
# method 2; 1.0 s at WebP's default 4, PNG's optimize adds 0.1 s) and some 50-100 MB.
FORMATS = {
    "JPEG": ("jpg", {"quality": 90}, ("RGB", "L")),
    "PNG": ("png", {}, ("RGB", "RGBA", "L", "LA", "P")),
    "WEBP": ("webp", {"quality": 90, "method": 2}, ("RGB", "RGBA")),
}
CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
FOLDER = "profiles"

NOT_A_PICTURE = "Upload a JPEG, PNG or WebP picture; this file is not one."
TOO_LARGE = "The photo is larger than 5 MiB."
TOO_MANY_PIXELS = f"The photo is larger than {MAX_SIDE}x{MAX_SIDE} pixels."


def _refusal(message, code):
    return ValidationError(message, code=code)


def _decoded(upload):
    """The first frame of `upload`, decoded, orientation applied; refusals as ValidationError."""
    if upload.size is None or upload.size > MAX_BYTES:
        raise _refusal(TOO_LARGE, "too_large")
    upload.seek(0)
    try:
        with Image.open(upload, formats=list(FORMATS)) as image:
            if max(image.size) > MAX_SIDE:
                raise _refusal(TOO_MANY_PIXELS, "too_many_pixels")
            image.load()
            return image.format, ImageOps.exif_transpose(image)
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refusal(TOO_MANY_PIXELS, "too_many_pixels") from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure means "not a picture"
        raise _refusal(NOT_A_PICTURE, "not_a_picture") from exc


def reencoded(upload):
    """A ContentFile of the clean picture under a random name, or a ValidationError."""
    kind, image = _decoded(upload)
    extension, options, modes = FORMATS[kind]
    if image.mode not in modes:
        has_alpha = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha and "RGBA" in modes else "RGB")
    # A new image from the pixels alone: no EXIF, ICC profile, comments or text chunks.
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    if image.mode == "P":
        clean.putpalette(image.getpalette())
        if "transparency" in image.info:
            clean.info["transparency"] = image.info["transparency"]
    out = BytesIO()
    clean.save(out, format=kind, **options)
    return ContentFile(out.getvalue(), name=f"{FOLDER}/{secrets.token_hex(16)}.{extension}")


def content_type(name):
    """The stored file's type, from the extension reencoded() gave it; None for anything else."""
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower()) if "." in name else None
