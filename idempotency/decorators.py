"""`@idempotent`: the contract's `Idempotency-Key` on a writing POST view.

Put it below `@api_view` and the policy decorators: it runs after
authentication, role and throttle checks, as the contract orders it.
"""

import hashlib
import json
from contextvars import ContextVar
from functools import wraps

from django.db import transaction
from django.http import HttpResponse
from rest_framework import status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from idempotency import services

HEADER = "Idempotency-Key"
# Replies a client may retry are not kept: auth and role refusals, conflicts,
# throttling (and 5xx, which never reach the store).
NOT_KEPT = {
    status.HTTP_401_UNAUTHORIZED,
    status.HTTP_403_FORBIDDEN,
    status.HTTP_409_CONFLICT,
    status.HTTP_422_UNPROCESSABLE_ENTITY,
    status.HTTP_429_TOO_MANY_REQUESTS,
}


def valid_key(key):
    """1 to 255 visible ASCII characters (0x21-0x7E)."""
    return 1 <= len(key) <= 255 and all("!" <= char <= "~" for char in key)


def fingerprint(request):
    """The request a key is bound to: method, path and the body as a JSON value."""
    data = request.data
    data = data.dict() if hasattr(data, "dict") else data  # no body: an empty QueryDict
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def replay(record):
    response = HttpResponse(
        bytes(record.body), status=record.status_code, content_type="application/json"
    )
    response["Idempotent-Replayed"] = "true"
    return response


def in_progress():
    return Response(
        {"message": "A request with this Idempotency-Key is in progress"},
        status.HTTP_409_CONFLICT,
    )


def idempotent(view):
    """Run a POST once per caller and key; a retry gets the first reply, byte for byte."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None or request.method != "POST":
            return view(request, *args, **kwargs)
        if not valid_key(key):
            return Response({"message": "Invalid Idempotency-Key"}, status.HTTP_400_BAD_REQUEST)
        try:
            record = services.key_claim(
                user=request.user, key=key, fingerprint=fingerprint(request)
            )
        except services.KeyReused:
            return Response(
                {"message": "Idempotency-Key reused with a different request"},
                status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        except services.KeyInProgress:
            return in_progress()
        if record.status_code is not None:
            return replay(record)
        return _first_run(view, record, request, *args, **kwargs)

    return wrapper


def _first_run(view, record, request, *args, **kwargs):
    """Run the view and store its reply in one transaction, or free the key. A view
    that raises has its writes rolled back with that transaction; its refusal, if
    kept, is then stored on its own (no savepoint around the view: one fewer
    SAVEPOINT and RELEASE for every write)."""
    try:
        try:
            with transaction.atomic():
                token = _whole.set(True)
                try:
                    response = view(request, *args, **kwargs)
                finally:
                    _whole.reset(token)
                if _kept(response):
                    return _keep(record, response)
                transaction.set_rollback(True)
        except services.KeyInProgress:
            raise
        except Exception as exc:
            # As DRF would answer it; unexpected errors are re-raised (a 500 is not kept).
            response = request.parser_context["view"].handle_exception(exc)
            if _kept(response):
                return _keep(record, response)
    except services.KeyInProgress:
        return in_progress()  # taken for dead meanwhile: our write was rolled back
    except BaseException:
        services.key_release(record)
        raise
    services.key_release(record)
    return response


# True while a view runs in _first_run's transaction, which fails as a whole: an
# error the view raises leaves it by the exception, never caught inside it.
_whole = ContextVar("idempotent_view_transaction", default=False)


def in_whole_transaction():
    """Whether the caller runs in an idempotent view's transaction (see _whole): a
    write there that also fails only as a whole needs no savepoint of its own."""
    return _whole.get()


def _kept(response):
    return response.status_code < 500 and response.status_code not in NOT_KEPT


def _keep(record, response):
    """Store the reply with the key (in the write's transaction when there is one);
    the bytes a retry will get, so first reply and replay are identical."""
    body = JSONRenderer().render(response.data)
    if not services.key_answer(record, status_code=response.status_code, body=body):
        raise services.KeyInProgress
    first = HttpResponse(body, status=response.status_code, content_type="application/json")
    for name, value in response.items():
        first.setdefault(name, value)
    return first
