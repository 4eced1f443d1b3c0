"""gunicorn with config/gunicorn.py: long-but-legal requests reach Django (JSON), and
what gunicorn still refuses itself is JSON too, never its HTML page."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def send(port, request):
    """The raw reply to raw request bytes: (status line, headers dict, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        reply = b""
        while chunk := conn.recv(65536):
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    return status, {k.lower(): v for k, v in headers.items()}, body


def get(port, path, *headers):
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close", *headers]
    return send(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """gunicorn as `make serve` starts it, DEBUG off, on a free loopback port."""
    db = tmp_path_factory.mktemp("gunicorn-limits") / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "gunicorn-limits-test-" + "x" * 50,
        "DATABASE_URL": f"sqlite:///{db}",  # nothing here reads it: no migrate needed
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    port = free_port()
    process = subprocess.Popen(
        [GUNICORN, "-c", "config/gunicorn.py", "config.wsgi:application"]
        + ["-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                get(port, "/api/")
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


def assert_json(reply, code, body=None):
    status, headers, content = reply
    assert status.startswith(f"HTTP/1.1 {code} "), status
    assert headers["content-type"] == "application/json"
    if body is not None:
        assert json.loads(content) == body
    return json.loads(content)


def test_a_5000_character_path_reaches_django_and_answers_the_json_404(server):
    reply = get(server, "/api/" + "a" * 5000)

    assert_json(reply, 404, {"detail": "Not found."})
    assert reply[1]["x-content-type-options"] == "nosniff"  # Django's reply, not gunicorn's


def test_a_10_kb_header_reaches_django(server):
    reply = get(server, "/api/no-such-page/", "Authorization: Bearer " + "b" * 10240)

    assert_json(reply, 404, {"detail": "Not found."})


def test_a_control_byte_in_a_header_is_gunicorns_refusal_but_in_json(server):
    reply = get(server, "/api/no-such-page/", "X-Note: a\x01b")

    assert assert_json(reply, 400)["detail"].startswith("Bad Request: Invalid HTTP Header")


def test_a_request_line_over_8190_bytes_is_a_json_414(server):
    reply = get(server, "/api/" + "a" * 9000)

    assert assert_json(reply, 414)["detail"].startswith("URI Too Long")


def test_a_header_field_over_16_kb_is_a_json_431(server):
    reply = get(server, "/api/no-such-page/", "X-Note: " + "b" * 20000)

    assert assert_json(reply, 431)["detail"].startswith("Request Header Fields Too Large")
