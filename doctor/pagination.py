from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.response import Response

MAX_LIMIT = 500


class OptInLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=&offset=` pages a list; without `limit` the plain array stays.

    Unlike DRF's default, a malformed limit or offset is a 400, not silently
    ignored: a client that asked for a page must not get the whole table.
    """

    max_limit = MAX_LIMIT

    def get_limit(self, request):
        raw = request.query_params.get(self.limit_query_param)
        if raw is None:
            return None
        return min(self._number(self.limit_query_param, raw, minimum=1), self.max_limit)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param, "0")
        return self._number(self.offset_query_param, raw, minimum=0)

    @staticmethod
    def _number(name, raw, minimum):
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and int(raw) >= minimum):
            kind = "positive" if minimum else "non-negative"
            raise ValidationError({name: [f"A {kind} whole number is required."]})
        return int(raw)


def list_response(request, queryset, serializer_class, *, prepare=None):
    """The whole list as an array, or a DRF page when the caller asks for one.

    `prepare` runs over the rows that will be serialized (e.g. to attach the
    doctor object every row shares, instead of joining it).
    """
    paginator = OptInLimitOffsetPagination()
    page = paginator.paginate_queryset(queryset, request)
    rows = list(queryset) if page is None else page
    if prepare is not None:
        prepare(rows)
    data = serializer_class(rows, many=True).data
    return Response(data) if page is None else paginator.get_paginated_response(data)
