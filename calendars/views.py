import hashlib

from django.http import HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.decorators import api_view, authentication_classes, permission_classes
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from calendars import feeds, services
from config.openapi import MESSAGE, UNAUTHENTICATED

FEED_URL = inline_serializer("CalendarFeedUrl", {"url": serializers.URLField()})


class FirstRenderer(BaseContentNegotiation):
    """Calendar apps ask for `Accept: text/calendar`: refusals still answer JSON, not 406."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def any_accept(view):
    """Put FirstRenderer on a function view (set below @api_view)."""
    view.content_negotiation_class = FirstRenderer
    return view


def feed_url_reply(request, feed):
    url = reverse("calendar-feed", kwargs={"token": feed.token})
    return Response({"url": request.build_absolute_uri(url)})


@extend_schema(responses={200: FEED_URL, 401: UNAUTHENTICATED})
@api_view(["GET"])
def calendar_url(request):
    """The caller's secret calendar feed URL, created on first request."""
    return feed_url_reply(request, services.feed_get(user=request.user))


@extend_schema(request=None, responses={200: FEED_URL, 401: UNAUTHENTICATED})
@api_view(["POST"])
def calendar_reset(request):
    """A new secret feed URL for the caller; the old one answers 404 from now on."""
    return feed_url_reply(request, services.feed_reset(user=request.user))


@extend_schema(
    operation_id="calendar_feed",
    parameters=[
        OpenApiParameter(
            "token", str, OpenApiParameter.PATH, description="The secret from the feed URL."
        ),
        OpenApiParameter(
            "If-None-Match",
            str,
            OpenApiParameter.HEADER,
            description="The `ETag` of a feed already held: 304 while it is still current.",
        ),
    ],
    responses={
        (200, "text/calendar"): OpenApiResponse(
            OpenApiTypes.STR, description="The feed (RFC 5545), with a strong `ETag`."
        ),
        304: OpenApiResponse(description="Not modified: the `If-None-Match` ETag is current."),
        404: OpenApiResponse(MESSAGE, description='`{"message": "Calendar not found"}`'),
    },
    auth=[],
    description="No token needed: the secret in the URL is the authentication. A doctor's "
    "feed has the bookings on their slots, anyone else's their own bookings, from 30 days "
    "back on.",
)
@api_view(["GET", "HEAD"])
@authentication_classes([])
@permission_classes([AllowAny])
@any_accept
def calendar_feed(request, token):
    """A user's bookings as an iCalendar feed, for calendar apps to subscribe to."""
    user = services.feed_owner(token=token)
    body = feeds.feed_document(user, services.feed_bookings(user=user))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["ETag"] = f'"{hashlib.sha256(body).hexdigest()}"'
    # The URL is a secret: no shared cache keeps the feed, and clients revalidate.
    patch_cache_control(response, private=True, no_cache=True)
    return get_conditional_response(request, etag=response["ETag"], response=response)
