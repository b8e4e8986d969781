"""Per-token throttling, counted in the default cache (Redis whenever REDIS_URL is set, so every
worker process shares the count)."""

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle


class ApiTokenRateThrottle(SimpleRateThrottle):
    """At most `num_requests` per token in each fixed window of `duration` seconds.

    A counter per window (cache add + incr) rather than DRF's sliding history: DRF reads and
    rewrites a list of every request time in the window on each request, which at 6000/min is
    tens of kilobytes through the cache per request. A window may let a burst of up to twice the
    rate straddle its boundary; that is the usual price of a counter.
    """

    scope = "api_token"

    def get_rate(self):
        # Read at request time rather than import time, so the setting can change (tests, reloads).
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        token = request.auth
        if token is None or not hasattr(token, "pk"):
            return None  # unauthenticated requests are refused before they cost anything
        return self.cache_format % {"scope": self.scope, "ident": token.pk}

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.now = self.timer()
        window = int(self.now // self.duration)
        key = f"{key}:{window}"
        # add() is a no-op when the window's counter exists; incr() is atomic in Redis.
        self.cache.add(key, 0, self.duration + 1)
        try:
            count = self.cache.incr(key)
        except ValueError:  # expired between add and incr: the window just ended
            self.cache.add(key, 1, self.duration + 1)
            count = 1
        return count <= self.num_requests

    def wait(self):
        return self.duration - (self.now % self.duration)
