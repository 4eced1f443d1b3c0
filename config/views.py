"""Project-level views: JSON answers for errors outside DRF's views."""

from django.http import JsonResponse


def not_found(request, exception=None):
    """404 for any unknown URL, as JSON like the rest of the API."""
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request):
    """500 as JSON: clients never get an HTML debug page."""
    return JsonResponse({"detail": "Internal server error."}, status=500)
