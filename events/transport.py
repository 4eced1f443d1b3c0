"""One webhook attempt, over the standard library's http.client, within one
deadline: WEBHOOK_TIMEOUT_SECONDS covers the name lookup, connecting, TLS,
sending the request and receiving the reply's status line and headers (its body
is not read). A socket timeout alone bounds each read, not the whole: a receiver
that sends a header every few seconds would hold an attempt (and its worker
process) for as long as it liked. So a watchdog timer shuts the socket down at
the deadline, which ends whatever read or write is blocked on it; the attempt is
then a failure ("Timeout: ..."), never a delivery, and it always ends before its
lease (WEBHOOK_LEASE_SECONDS, which settings require to be longer).

The connection goes to the addresses events.addresses checked, never to a second
lookup of the name; https verifies the certificate against the URL's host name
(and sends it as SNI). Redirects are not followed: a 3xx is the attempt's status.
"""

import http.client
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from django.conf import settings

from events import addresses

ERROR_LENGTH = 1000


class Deadline:
    """The attempt's end, and the watchdog that enforces it on its socket."""

    def __init__(self, seconds):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.fileno = None
        self.finished = False
        self.fired = False
        self.timer = None

    def left(self):
        left = self.at - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        return left

    def passed(self):
        """Past the deadline, or cut by the watchdog (a read the cut ended may look
        like a complete reply: http.client takes an EOF for the end of headers)."""
        return self.fired or time.monotonic() >= self.at

    def watch(self, sock):
        """Shut `sock` down at the deadline, unless the attempt finished first."""
        with self.lock:
            self.fileno = sock.fileno()
        self.timer = threading.Timer(self.left(), self.cut)
        self.timer.daemon = True
        self.timer.start()

    def cut(self):
        with self.lock:
            if self.finished or self.fileno is None:
                return
            self.fired = True
            # The descriptor, whichever object wraps it now (TLS wraps the socket
            # after connecting); detach() so that this object never closes it.
            sock = socket.socket(fileno=self.fileno)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            finally:
                sock.detach()

    def finish(self):
        with self.lock:
            self.finished = True
        if self.timer is not None:
            self.timer.cancel()


def connect(addrs, deadline):
    """A socket connected to the first of the checked addresses that answers (no
    name lookup here: only the addresses resolve() checked)."""
    error = OSError("no address to connect to")
    for family, sockaddr in addrs:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(deadline.left())
            sock.connect(sockaddr)
        except TimeoutError:
            sock.close()
            raise
        except OSError as failed:
            sock.close()
            error = failed
            continue
        deadline.watch(sock)
        return sock
    raise error


def connection(scheme, host, port, addrs, deadline):
    """An http.client connection to `host` that connects to `addrs` only."""
    if scheme == "https":
        conn = http.client.HTTPSConnection(
            host, port, timeout=deadline.left(), context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=deadline.left())
    # http.client's own hook for making the socket: ours skips the name lookup.
    conn._create_connection = lambda *_args, **_kwargs: connect(addrs, deadline)
    return conn


def exchange(request, deadline):
    """The reply's status code; raises on refusal, failure or the deadline."""
    scheme, host, port = addresses.target(request.full_url)
    addrs = addresses.resolve(host, port, deadline.left())
    parts = urlsplit(request.full_url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = connection(scheme, host, port, addrs, deadline)
    try:
        conn.request("POST", path, body=request.data, headers=dict(request.header_items()))
        return conn.getresponse().status
    finally:
        deadline.finish()
        conn.close()


def post(request):
    """(status code, error text) of one attempt at `request` (a urllib Request:
    the URL, the signed body and headers)."""
    deadline = Deadline(settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        status = exchange(request, deadline)
    except addresses.Refused as error:
        return None, f"Refused: {error}"[:ERROR_LENGTH]
    except (OSError, ValueError, http.client.HTTPException) as error:
        if deadline.passed() or isinstance(error, TimeoutError):
            return None, f"Timeout: no reply within {deadline.seconds:g} s"
        return None, f"{type(error).__name__}: {error}"[:ERROR_LENGTH]
    if deadline.fired:
        return None, f"Timeout: no reply within {deadline.seconds:g} s"
    return status, ""
