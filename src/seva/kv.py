"""Redis as every part of Seva meets it: what it raises when it is away.

The conversation stores, the catalog's bus and the call relay each carry on without Redis
(the database meanwhile, the age limit, calls within one process); they all catch the same
failures: redis-py's own errors and the socket's (refused, reset, timed out: ``TimeoutError``
is an ``OSError``).
"""

from __future__ import annotations

from redis.exceptions import RedisError

REDIS_ERRORS = (RedisError, OSError)
"""What talking to Redis raises when it cannot be reached or does not answer in time."""
