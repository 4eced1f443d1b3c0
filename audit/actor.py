"""Who is acting: the user of the request being served, for the audit trail.

The middleware keeps the request in a context variable for the request's
duration; DRF writes the user it authenticates (a JWT's) onto that same
request, so by the time a flow writes, `request.user` is the caller. Outside a
request (the worker, a management command) there is no actor.
"""

from contextvars import ContextVar

_request = ContextVar("audit_request", default=None)


def current_actor():
    """The authenticated user of the request being served, or None."""
    request = _request.get()
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


class RequestActorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
