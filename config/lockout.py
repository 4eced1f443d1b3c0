"""Brute-force lockout for /admin/login/ (django-axes), on the shared cache.

Only the admin's logins are counted and refused: the API's logins (/api/login/,
/api/token/) keep their own per-address throttle and their reply shape, see
docs/design.md. Settings: the AXES_* group in config/settings.py.
"""

import logging

from axes.backends import AxesStandaloneBackend
from axes.handlers.cache import AxesCacheHandler
from axes.helpers import get_cache
from rest_framework.throttling import BaseThrottle

from config.throttles import CACHE_ERRORS

logger = logging.getLogger(__name__)


class AdminLockoutBackend(AxesStandaloneBackend):
    """axes' lockout check, which refuses authenticate() calls without a request.

    Scripts and the test client's login() have no request: nothing to count or
    lock there, so the next backend decides as before axes.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)


class AdminLockoutHandler(AxesCacheHandler):
    """axes' cache handler, counting admin failures only and failing open with the cache.

    AXES_ONLY_ADMIN_SITE stops axes refusing API logins, but its handler would
    still count their failures (and flag the request): here they are ignored.
    An unreachable Redis lets admin logins through, logged, like the throttles.
    """

    def __init__(self):
        """No cache object captured once for the process (axes' default): see `cache`."""

    @property
    def cache(self):
        # The current thread's default cache, as the throttles use it; follows CACHES.
        return get_cache()

    def user_login_failed(self, sender, credentials, request=None, **kwargs):
        if request is None or not self.is_admin_request(request):
            return
        try:
            super().user_login_failed(sender, credentials, request, **kwargs)
        except CACHE_ERRORS:
            logger.warning("admin lockout: cache unreachable; failure not counted")

    def user_logged_in(self, sender, request, user, **kwargs):
        try:
            super().user_logged_in(sender, request, user, **kwargs)  # clears the count
        except CACHE_ERRORS:
            logger.warning("admin lockout: cache unreachable; count not cleared")

    def get_failures(self, request, credentials=None):
        try:
            return super().get_failures(request, credentials)
        except CACHE_ERRORS:
            logger.warning("admin lockout: cache unreachable; not checked")
            return 0


def client_ip(request):
    """The client's address as the throttles see it (REMOTE_ADDR, or X-Forwarded-For per
    NUM_PROXIES), so one proxy setting serves both."""
    return BaseThrottle().get_ident(request)


def admin_username(request, credentials):
    """The email typed in the admin login form, in one case: A@x.com and a@x.com are one."""
    username = (credentials or request.POST).get("username") or ""
    return username.strip().lower() or None
