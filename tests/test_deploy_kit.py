"""The deployment kit (deploy/) agrees with the application's own limits and settings.

.ci/stack runs the kit for real (nginx -t, systemd-analyze verify, the stack end
to end); these catch a limit changed on one side only, on every test run.
"""

import re
from pathlib import Path

from django.conf import settings

from accounts import photos
from config import gunicorn as gunicorn_conf

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
SITE = (DEPLOY / "nginx" / "quickmed.conf").read_text()
UNITS = {path.name: path.read_text() for path in (DEPLOY / "systemd").glob("*.service")}
PGBOUNCER = (DEPLOY / "pgbouncer" / "pgbouncer.ini").read_text()
ENV_EXAMPLE = (DEPLOY / "quickmed.env.example").read_text()
README = (ROOT / "README.md").read_text()
SIZES = {"k": 1024, "m": 1024 * 1024}


def nginx_size(value):
    return int(value[:-1]) * SIZES[value[-1]]


def body_limits():
    """client_max_body_size of the server, and of the profile update's location."""
    server = re.search(r"^    client_max_body_size (\w+);", SITE, re.M)[1]
    update = re.search(r"location = /api/profile/update/ \{\s*client_max_body_size (\w+);", SITE)[1]
    return nginx_size(server), nginx_size(update)


def test_the_proxys_body_limit_lets_every_json_body_django_accepts_reach_django():
    server, _ = body_limits()

    assert server > settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_the_profile_update_lets_a_full_size_photo_and_its_form_through():
    _, update = body_limits()

    assert photos.MAX_BYTES < update <= photos.MAX_BYTES + 2 * SIZES["m"]


def test_the_proxys_header_buffers_match_gunicorns_header_field_limit():
    size = re.search(r"large_client_header_buffers \d+ (\w+);", SITE)[1]

    assert nginx_size(size) == gunicorn_conf.limit_request_field_size
    assert nginx_size(size) > gunicorn_conf.limit_request_line


def test_nginx_answers_its_own_refusals_under_api_as_json():
    for status in ("400", "413", "414", "431", "unavailable"):
        assert f"/_quickmed_errors/{status}.json" in SITE
    assert "default_type application/json;" in SITE
    # The application's own JSON errors pass through untouched.
    assert not re.search(r"^\s*proxy_intercept_errors", SITE, re.M)


def test_the_proxy_sets_the_headers_num_proxies_and_forwarded_proto_expect():
    assert "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;" in SITE
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in SITE
    assert "NUM_PROXIES=1" in ENV_EXAMPLE
    assert "USE_X_FORWARDED_PROTO=1" in ENV_EXAMPLE


def test_no_worker_unit_runs_the_scheduler():
    for name, text in UNITS.items():
        assert "--beat" not in text, name


def test_the_one_scheduler_keeps_its_schedule_in_its_state_directory():
    beat = UNITS["quickmed-beat.service"]

    assert "StateDirectory=quickmed-beat" in beat
    assert "--schedule /var/lib/quickmed-beat/celerybeat-schedule" in beat


def test_every_unit_runs_as_the_quickmed_user_and_restarts_on_failure():
    for name, text in UNITS.items():
        assert "User=quickmed" in text, name
        assert "Restart=on-failure" in text, name
        assert "NoNewPrivileges=yes" in text, name


def test_the_web_unit_runs_gunicorn_with_the_projects_config():
    assert "gunicorn -c config/gunicorn.py config.wsgi:application" in UNITS["quickmed-web.service"]


def test_pgbouncer_pools_transactions_and_the_environment_says_so():
    assert re.search(r"^pool_mode = transaction$", PGBOUNCER, re.M)
    assert re.search(r"^DATABASE_POOL_MODE=transaction$", ENV_EXAMPLE, re.M)


def test_every_setting_the_kit_uses_is_in_the_readme_configuration_table():
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    used = set(re.findall(r"^#? ?([A-Z][A-Z_]+)=", ENV_EXAMPLE, re.M))
    for text in UNITS.values():
        used |= set(re.findall(r"\$\{([A-Z_]+)\}", text))

    missing = sorted(name for name in used if f"`{name}`" not in table)

    assert used and not missing
