"""Serving the uploaded media (profile photos) from the application itself.

Not django.views.static: this answers only for files the storage holds under a
name accounts.photos gave them, with the content type of the stored format (the
extension it chose after decoding) and `nosniff`, so a browser never guesses
another type; the names are random and never reused, so replies may be cached.
Works with any STORAGES["default"] (the local filesystem or object storage).
"""

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.views.decorators.http import require_safe

from accounts.photos import content_type

CACHE_CONTROL = "public, max-age=31536000, immutable"


@require_safe
def media(request, path):
    kind = content_type(path)
    if kind is None or "\\" in path or path.startswith("/"):
        raise Http404
    try:
        if not default_storage.exists(path):
            raise Http404
        stored = default_storage.open(path, "rb")
    except (SuspiciousFileOperation, ValueError, OSError) as exc:
        raise Http404 from exc
    response = FileResponse(stored, content_type=kind)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = CACHE_CONTROL
    return response
