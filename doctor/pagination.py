"""The list forms: the plain array (the default), `?limit=&offset=` pages, and
`?page_size=` pages by cursor (keyset: no count, flat cost at any depth)."""

import base64
import binascii
import json
from datetime import date, datetime, time

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import F
from django.db.models.fields.tuple_lookups import Tuple, TupleGreaterThan, TupleLessThan
from django.http import HttpResponse
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from doctor.serializers import MAX_ID
from listcache import services as listcache

MAX_LIMIT = 500
DEFAULT_PAGE_SIZE = 50
BOTH_FORMS = "Use either limit and offset or page_size and cursor, not both."
INVALID_CURSOR = "Invalid cursor."


def _number(name, raw, minimum):
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9 and int(raw) >= minimum):
        kind = "positive" if minimum else "non-negative"
        raise ValidationError({name: [f"A {kind} whole number is required."]})
    return int(raw)


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
        return min(_number(self.limit_query_param, raw, minimum=1), self.max_limit)

    def get_offset(self, request):
        raw = request.query_params.get(self.offset_query_param, "0")
        return _number(self.offset_query_param, raw, minimum=0)


def _plain(value):
    return value.isoformat() if isinstance(value, date | time | datetime) else value


def cursor_token(key, backwards=False):
    """The opaque `cursor` of a link: the key of the row a page continues from
    (its ORDER BY columns, as JSON-able values) and the direction."""
    payload = json.dumps({"p": [_plain(v) for v in key], "r": backwards}, separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


class KeysetPagination:
    """`?page_size=N` (1-500, default 50), then the `next` / `previous` links' `cursor`.

    The cursor is the list's own ORDER BY key of the row it continues from
    (it must end in a unique column, the id), so a page is an index range scan
    from that key: the same cost on page 1 and page 20,000, and no count. Unlike
    DRF's CursorPagination (one ordering column plus an offset among ties), every
    column of the key takes part, and a malformed cursor is a 400.
    """

    def __init__(self, request, queryset):
        self.request = request
        self.model = queryset.model
        order_by = queryset.query.order_by
        self.ordering = [(name.lstrip("-"), name.startswith("-")) for name in order_by]
        assert self.ordering and self.ordering[-1][0] == "id", "the key must end in the id"
        raw = request.query_params.get("page_size")
        self.page_size = DEFAULT_PAGE_SIZE if raw is None else _number("page_size", raw, 1)
        self.page_size = min(self.page_size, MAX_LIMIT)

    def paginate(self, queryset):
        position, backwards = self._decode(self.request.query_params.get("cursor"))
        if position is not None:
            queryset = queryset.filter(self._beyond(position, backwards))
        if backwards:
            queryset = queryset.reverse()
        rows = list(queryset[: self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[: self.page_size]
        if backwards:
            rows.reverse()
        self.next, self.previous = self._links(rows, more, position, backwards)
        return rows

    def response(self, data):
        return Response({"next": self.next, "previous": self.previous, "results": data})

    def after(self, row):
        """The link to the page that follows `row`."""
        return self._link(self.key(row), backwards=False)

    def key(self, row):
        get = row.__getitem__ if isinstance(row, dict) else row.__getattribute__
        return [_plain(get(name)) for name, _ in self.ordering]

    def _links(self, rows, more, position, backwards):
        if not rows:
            # Nothing past the cursor (the rows around it went): back to the first page.
            start = remove_query_param(self.request.build_absolute_uri(), "cursor")
            return (start, None) if backwards else (None, start if position else None)
        first, last = self.key(rows[0]), self.key(rows[-1])
        if backwards:
            return self._link(last, False), (self._link(first, True) if more else None)
        has_previous = position is not None
        return (self._link(last, False) if more else None), (
            self._link(first, True) if has_previous else None
        )

    def _link(self, key, backwards):
        token = cursor_token(key, backwards)
        return replace_query_param(self.request.build_absolute_uri(), "cursor", token)

    def _decode(self, token):
        if token is None:
            return None, False
        try:
            payload = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            values, backwards = payload["p"], payload["r"]
            if not (isinstance(values, list) and len(values) == len(self.ordering)):
                raise ValueError
            if not isinstance(backwards, bool):
                raise ValueError
            pairs = zip(self.ordering, values, strict=True)
            return [self._value(name, value) for (name, _), value in pairs], backwards
        except (ValueError, TypeError, KeyError, binascii.Error, DjangoValidationError):
            raise ValidationError({"cursor": [INVALID_CURSOR]}) from None

    def _value(self, name, raw):
        if not isinstance(raw, int | str) or isinstance(raw, bool):
            raise ValueError
        value = self.model._meta.get_field(name).to_python(raw)
        if isinstance(value, int) and not 0 <= value <= MAX_ID:
            raise ValueError
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError
        if value is None:
            raise ValueError
        return value

    def _beyond(self, position, backwards):
        """Rows after `position` in list order (before it when `backwards`), as one
        row comparison, `(date, start_time, id) > (...)`: PostgreSQL reads it as an
        index condition, so a page deep down starts where it should."""
        directions = {descending for _, descending in self.ordering}
        assert len(directions) == 1, "the key's columns must all go the same way"
        later = directions.pop() == backwards
        columns = Tuple(*(F(name) for name, _ in self.ordering))
        return (TupleGreaterThan if later else TupleLessThan)(columns, tuple(position))


def _form(request):
    """ "keyset", "offset" or None (the plain array); both page forms at once is a 400."""
    params = request.query_params
    keyset = "page_size" in params or "cursor" in params
    if keyset and ("limit" in params or "offset" in params):
        raise ValidationError({"non_field_errors": [BOTH_FORMS]})
    return "keyset" if keyset else "offset" if "limit" in params else None


def list_response(request, queryset, serializer_class, *, prepare=None, max_unpaged=None):
    """The whole list as an array, or a page when the caller asks for one.

    `prepare` runs over the rows that will be serialized (e.g. to attach the
    doctor object every row shares, instead of joining it). `max_unpaged` bounds
    the plain array: past it the soonest rows come, with `X-Truncated: true` and
    a `Link` to the cursor page that follows the last of them.
    """
    form = _form(request)
    headers = {}
    if form == "keyset":
        paginator = KeysetPagination(request, queryset)
        rows = paginator.paginate(queryset)
    elif form == "offset":
        paginator = OptInLimitOffsetPagination()
        rows = paginator.paginate_queryset(queryset, request)
    elif max_unpaged is not None:
        rows = list(queryset[: max_unpaged + 1])
        if len(rows) > max_unpaged:
            rows = rows[:max_unpaged]
            link = KeysetPagination(request, queryset).after(rows[-1])
            link = _on_site(request, replace_query_param(link, "page_size", MAX_LIMIT))
            headers = {"X-Truncated": "true", "Link": f'<{link}>; rel="next"'}
    else:
        rows = list(queryset)
    if prepare is not None:
        prepare(rows)
    data = serializer_class(rows, many=True).data
    if form == "keyset":
        return paginator.response(data)
    if form == "offset":
        return paginator.get_paginated_response(data)
    return Response(data, headers=headers)


def _on_site(request, url):
    """`url` on the configured SITE_URL, when there is one, whatever Host it was asked on."""
    if not settings.SITE_URL:
        return url
    asked_on = request.build_absolute_uri("/")
    return settings.SITE_URL.rstrip("/") + "/" + url.removeprefix(asked_on)


def read_once(request, name, respond, *, expires=None):
    """`respond()`'s reply, for a public list asked with no parameters: rendered
    once per version of the lists (listcache/services.py), the same bytes for every
    caller, whatever Host it came with. `expires(data)` says when the reply goes
    stale with no write at all."""
    if not settings.LIST_CACHE or request.query_params:
        return respond()
    if request.accepted_renderer.format != "json":
        return respond()

    def build():
        response = respond()
        content = JSONRenderer().render(response.data)
        headers = {key: response[key] for key in ("X-Truncated", "Link") if key in response}
        if "Link" in headers and not settings.SITE_URL:
            return content, headers, 0  # names the Host it was asked on: not kept
        return content, headers, expires(response.data) if expires else None

    content, headers, _ = listcache.cached(name, build)
    return HttpResponse(content, content_type="application/json", headers=headers)
