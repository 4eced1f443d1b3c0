"""Reply shapes shared by the OpenAPI descriptions of the views (drf-spectacular)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    inline_serializer,
)
from rest_framework import serializers

MESSAGE = inline_serializer("Message", {"message": serializers.CharField()})
ERROR = inline_serializer("Error", {"error": serializers.CharField()})
DETAIL = inline_serializer("Detail", {"detail": serializers.CharField()})

FIELD_ERRORS = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description='Validation failed: `{"field": ["message", ...]}`, cross-field rules '
    'under `non_field_errors`, or a business rule as `{"message": "..."}`.',
)
UNAUTHENTICATED = OpenApiResponse(DETAIL, description="No token, or a bad or expired one.")
FORBIDDEN = OpenApiResponse(DETAIL, description="Signed in, but not with the role this needs.")
THROTTLED = OpenApiResponse(DETAIL, description="Too many requests; retry after `Retry-After`.")
SLOT_NOT_FOUND = OpenApiResponse(
    MESSAGE, description='`{"message": "Slot not found"}`: missing, or not yours.'
)

PAGE_PARAMETERS = [
    OpenApiParameter(
        "limit",
        int,
        description="Page size (1-500). Given: the reply is a page "
        "`{count, next, previous, results}`; left out: a plain array.",
    ),
    OpenApiParameter("offset", int, description="Rows to skip before the page (with `limit`)."),
    OpenApiParameter(
        "page_size",
        int,
        description="Page size (1-500, more gives 500) of a cursor page "
        "`{next, previous, results}`: no count, the same cost at any depth. "
        "Not with `limit`/`offset`.",
    ),
    OpenApiParameter(
        "cursor",
        str,
        description="Where a cursor page starts: only as found in a `next` or `previous` "
        "link (opaque). Alone, pages of 50.",
    ),
]


def list_or_page(serializer_class, name):
    """A list endpoint's 200: the plain array, or a page when one is asked for.

    One page schema serves both forms, so that a reply matches exactly one of the
    two (a DRF page would match a separate cursor-page schema too): `count` comes
    with `limit`/`offset` only, never with `page_size`/`cursor`.
    """
    page = inline_serializer(
        f"{name}Page",
        {
            "count": serializers.IntegerField(
                required=False, help_text="With `limit`/`offset` only: all rows."
            ),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer_class(many=True),
        },
    )
    return PolymorphicProxySerializer(
        component_name=f"{name}ListOrPage",
        serializers=[serializer_class(many=True), page],
        resource_type_field_name=None,
        many=False,
    )


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    description="Optional: 1-255 visible ASCII characters. A retry with the same key and "
    "request gets the first reply again (header `Idempotent-Replayed: true`); nothing is "
    "written twice. Kept IDEMPOTENCY_TTL_SECONDS (default 24 h).",
)
IDEMPOTENCY_REFUSALS = {
    409: OpenApiResponse(
        MESSAGE, description="The first request with this key has not answered yet."
    ),
    422: OpenApiResponse(
        MESSAGE, description="The key was first used with another method, path or body."
    ),
}
ROLE_REFUSALS = {401: UNAUTHENTICATED, 403: FORBIDDEN}
# The refusals of a patient's step on a slot (book, hold): the slot's rules, the
# booking throttle, the role, and the Idempotency-Key's own.
SLOT_STEP_REFUSALS = {
    400: FIELD_ERRORS,  # a refusal's message, or the body's errors (visit_type)
    404: SLOT_NOT_FOUND,
    429: THROTTLED,
    **ROLE_REFUSALS,
    **IDEMPOTENCY_REFUSALS,
}
