import logging
import math

from redis.exceptions import RedisError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)

# What an unreachable, hung or failing Redis raises through Django's cache.
CACHE_ERRORS = (RedisError, OSError)
# A counter's value is window end * WINDOW_END + count (counts stay far below it).
WINDOW_END = 10**6


class SharedScopedRateThrottle(ScopedRateThrottle):
    """DRF's scoped throttle with an atomic counter, failing open if the cache is unreachable.

    DRF keeps a list of timestamps that it reads, appends to and writes back:
    parallel requests (threads or processes on one Redis) all read the same list
    and a burst of 60 logins against 10/min let 15-18 through. Here each client
    has a fixed window that starts at its first request: cache.add creates the
    counter with the window's lifetime and cache.incr counts, both atomic in
    Redis and in local memory, so a window never admits more than the rate.

    A Redis outage must not take login and booking down with it: the request
    goes through unthrottled and the outage is logged.
    """

    def allow_request(self, request, view):
        try:
            return self.allow_counted(request, view)
        except CACHE_ERRORS:
            logger.warning("throttle cache unreachable; %s not throttled", self.scope)
            return True

    def allow_counted(self, request, view):
        # ScopedRateThrottle.allow_request's set-up, then a counter for DRF's history list.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.window_ends, count = self.count_request()
        return count <= self.num_requests

    def count_request(self):
        """(when the client's window ends, this request's number in it).

        One integer per client holds both, so a single atomic incr answers: the
        window's end in epoch seconds times WINDOW_END, plus the count.
        """
        for _ in range(2):
            ends = math.ceil(self.timer() + self.duration)
            self.cache.add(self.key, ends * WINDOW_END, self.duration)
            try:
                return divmod(self.cache.incr(self.key), WINDOW_END)
            except ValueError:  # the window expired between add and incr: open the next
                continue
        return ends, 1

    def wait(self):
        """Seconds until the client's window ends, for Retry-After."""
        return min(max(self.window_ends - self.timer(), 1), self.duration)


class WriteThrottle(SharedScopedRateThrottle):
    """The scope's budget spent by writes only: reading the same URL is free."""

    def allow_request(self, request, view):
        if request.method in SAFE_METHODS:
            return True
        return super().allow_request(request, view)
