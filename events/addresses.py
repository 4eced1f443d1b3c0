"""Where a webhook may go: an https URL (http only with WEBHOOK_ALLOW_HTTP) whose
host resolves to public addresses only (ipaddress's `is_global`; loopback,
private, link-local and the like only with WEBHOOK_ALLOW_PRIVATE).

Checked when an endpoint is saved (`validate_webhook_url`, the model field's
validator) and again at every attempt (`target` and `resolve`, called by
events/transport.py), which then connects to the very addresses it checked: a
name cannot point elsewhere between the check and the connection (DNS
rebinding), nor be changed to an internal address after the endpoint was saved.
"""

import ipaddress
import socket
import threading
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

DEFAULT_PORTS = {"https": 443, "http": 80}


class Refused(Exception):
    """Not a URL or an address webhooks may go to; the text says why."""


def schemes():
    return ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)


def target(url):
    """(scheme, host, port) of a URL webhooks may use; raises Refused."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in schemes():
        raise Refused(f"Only {' or '.join(schemes())} URLs may receive webhooks.")
    try:
        port = parts.port
    except ValueError as error:
        raise Refused(f"Invalid port: {error}.") from error
    if not parts.hostname:
        raise Refused("The URL names no host.")
    if parts.username is not None or parts.password is not None:
        raise Refused("A webhook URL carries no user name or password.")
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def address_refusal(host, address):
    """Why `address` (one of `host`'s) may not receive webhooks, or None."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # without an IPv6 zone
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if ip.is_global or settings.WEBHOOK_ALLOW_PRIVATE:
        return None
    return f"{host} is {ip}, not a public address."


def lookup(host, port, timeout):
    """getaddrinfo, given up after `timeout` seconds (the lookup itself cannot be
    interrupted: it finishes in a daemon thread that nobody waits for)."""
    found = {}

    def run():
        try:
            found["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as error:
            found["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(max(timeout, 0))
    if thread.is_alive():
        raise TimeoutError(f"no address for {host} within the deadline")
    if "error" in found:
        raise Refused(f"{host} does not resolve ({found['error']}).")
    return found["infos"]


def resolve(host, port, timeout):
    """The (family, socket address) pairs to connect to, in getaddrinfo's order,
    each one allowed; raises Refused when any is not (a name with one internal
    address is refused whole), TimeoutError when the lookup takes longer than
    `timeout`."""
    found = list(dict.fromkeys((info[0], info[4]) for info in lookup(host, port, timeout)))
    for _, sockaddr in found:
        refusal = address_refusal(host, sockaddr[0])
        if refusal:
            raise Refused(refusal)
    return found


def validate_webhook_url(url):
    """The endpoint's URL, when staff save it: the scheme, and every address its host
    resolves to now (the attempt checks again). With WEBHOOK_ALLOW_PRIVATE every
    address is allowed: the name is not looked up."""
    try:
        _, host, port = target(url)
        if not settings.WEBHOOK_ALLOW_PRIVATE:
            resolve(host, port, settings.WEBHOOK_TIMEOUT_SECONDS)
    except (Refused, TimeoutError) as error:
        raise ValidationError(str(error)) from error
