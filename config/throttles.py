import logging

from redis.exceptions import RedisError
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)

# What an unreachable, hung or failing Redis raises through Django's cache.
CACHE_ERRORS = (RedisError, OSError)


class SharedScopedRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle, failing open if the shared cache is unreachable.

    A Redis outage must not take login and booking down with it: the request
    goes through unthrottled and the outage is logged.
    """

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS:
            logger.warning("throttle cache unreachable; %s not throttled", self.scope)
            return True
