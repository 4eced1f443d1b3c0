"""gunicorn's settings: `gunicorn -c config/gunicorn.py config.wsgi:application`.

Used by `make serve`, .ci/fuzz and the deployment docs; command-line flags
(`--bind`, `--workers`, the log files) still override what is here.

Request limits. gunicorn refuses what passes them itself, with an HTML page
the API's clients cannot read, before Django sees the request. So they are
set generously enough that every request Django would answer reaches it and
gets the API's JSON (a long path: the JSON 404), and no further: the proxy in
front (docs/deployment.md) has the same bounds and answers JSON above them.
What gunicorn still refuses itself it answers as JSON too (`json_error`).
"""

import json

from gunicorn import util

# The request line (method, path with query, version) in bytes: gunicorn's
# maximum, and nginx's default `large_client_header_buffers` (8k). A 5,000
# character path reaches Django (the default, 4094, answered 414 in HTML).
limit_request_line = 8190
# Header fields per request: gunicorn's default.
limit_request_fields = 100
# One header field (name, value and separators) in bytes: 16 KB, so a long
# Authorization or Cookie header (10 KB) reaches Django. At most 100 such
# fields: a request's headers are bounded at about 1.6 MB.
limit_request_field_size = 16384


def json_error(sock, status_int, reason, mesg):
    """gunicorn's own refusals as the API's JSON error, `{"detail": text}`, instead of
    its HTML page: a control byte in a header, a request line or header field over the
    limits above, a malformed request line. nginx passes a header with a control byte
    (all but NUL) on to gunicorn, so the proxy alone cannot turn this one into JSON
    without also replacing the application's own JSON errors.
    """
    detail = f"{reason}: {mesg[:200]}" if mesg else reason
    body = json.dumps({"detail": detail}).encode()
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    util.write_nonblock(sock, head.encode("latin-1") + body)


def post_worker_init(worker):
    """gunicorn's hook, in each worker: its error replies are written by json_error
    (gunicorn==27 calls `util.write_error` for every one; tests/test_gunicorn.py pins it)."""
    util.write_error = json_error
