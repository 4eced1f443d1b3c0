"""Production settings: `check --deploy`, and gunicorn + whitenoise with DEBUG off."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYTHON_BIN = Path(sys.executable).parent

PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "pr0d-like-" + "k3y-with-enough-entropy-" * 3,
    "ALLOWED_HOSTS": "api.quickmed.example",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_COOKIES": "1",
    "USE_X_FORWARDED_PROTO": "1",
}


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_deploy_flags_a_deployment_without_the_tls_switches():
    env = {**PRODUCTION_ENV, "SECURE_SSL_REDIRECT": "0", "SECURE_HSTS_SECONDS": "0"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
    assert "security.W008" in result.stderr + result.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers, response.read()


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory):
    """gunicorn with DEBUG off on a throwaway SQLite database, static files collected."""
    db = tmp_path_factory.mktemp("gunicorn") / "db.sqlite3"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "gunicorn-test-" + "x" * 50,
        "DATABASE_URL": f"sqlite:///{db}",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    for args in (["migrate", "--noinput"], ["collectstatic", "--noinput", "--verbosity", "0"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)
    port = free_port()
    server = subprocess.Popen(
        [PYTHON_BIN / "gunicorn", "config.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                get(f"{base}/api/health/")
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=10)


def assets_of(html):
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', html)


def test_under_gunicorn_the_admin_renders_with_its_styles(gunicorn):
    status, _, body = get(f"{gunicorn}/admin/login/")
    css = [a for a in assets_of(body.decode()) if a.endswith(".css")]
    assert status == 200
    assert css, "the admin login page links no stylesheet"
    for asset in css:
        asset_status, headers, _ = get(gunicorn + asset)
        assert asset_status == 200
        assert headers["Content-Type"].startswith("text/css")


def test_under_gunicorn_the_api_docs_render_with_their_scripts(gunicorn):
    status, _, body = get(f"{gunicorn}/api/docs/")
    assets = assets_of(body.decode())
    assert status == 200
    assert any(a.endswith(".js") for a in assets)
    for asset in assets:
        assert get(gunicorn + asset)[0] == 200


def test_under_gunicorn_static_files_get_long_cache_headers(gunicorn):
    _, _, body = get(f"{gunicorn}/admin/login/")
    asset = next(a for a in assets_of(body.decode()) if a.endswith(".css"))
    _, headers, _ = get(gunicorn + asset)
    assert "max-age=315360000" in headers["Cache-Control"]  # hashed name: immutable


def test_under_gunicorn_the_schema_and_health_answer(gunicorn):
    assert get(f"{gunicorn}/api/health/")[0] == 200
    status, headers, _ = get(f"{gunicorn}/api/schema/?format=json")
    assert status == 200
    assert headers["Content-Type"].startswith("application/")
