"""Rate limits of the public lookup (Flask-Limiter, as app/accounts/throttle.py does for sign-in).

Two limits, both must hold: every lookup or rating counts against the client's address
(RESIDENT_LIMIT_ADDRESS), and every wrong number or code counts against the number it named
(RESIDENT_LIMIT_NUMBER), so guesses spread over many addresses still stop on one number.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from dataclasses import dataclass

from flask import current_app
from flask import request
from limits import parse_many
from limits.storage import MemoryStorage
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from redis.exceptions import NoScriptError

from app.extensions import limiter
from app.resident.receipts import normalise_number


def submitted_number() -> str:
    """The case number a lookup names (JSON body, form or the page's path), normalised."""
    data = request.get_json(silent=True) if request.is_json else request.form
    value = data.get("number", "") if hasattr(data, "get") else ""
    value = value or (request.view_args or {}).get("number", "")
    return normalise_number(value)


def _number_key() -> str:
    return "receipt:" + submitted_number()


def _failed(response) -> bool:
    # A wrong code or an unknown number is a 404; a resident who types right is never blocked
    # by someone guessing at their number from elsewhere beyond this limit.
    return response.status_code == 404


def lookup_throttled(view):
    """At most RESIDENT_LIMIT_ADDRESS lookups per address, RESIDENT_LIMIT_NUMBER failures per
    number."""
    view = limiter.shared_limit(
        lambda: current_app.config["RESIDENT_LIMIT_NUMBER"],
        key_func=_number_key,
        scope="resident-number",
        deduct_when=_failed,
    )(view)
    return limiter.shared_limit(
        lambda: current_app.config["RESIDENT_LIMIT_ADDRESS"], scope="resident-address"
    )(view)


# --- the same counting outside Flask (the lookup's fast path, app/resident/fast.py) -------------
#
# Flask-Limiter, for a lookup: the address limits hit (counted), the number limits tested (a
# failure counts there afterwards), the headers from the address limit of the shortest window.
# `count` does exactly that on Flask-Limiter's own storage and keys (fixed window, Redis or
# memory) — in one round trip to Redis — and `give_back` undoes it when the fast path hands a
# request to Flask after all, which then counts it its own way. Anything else (another strategy
# or storage, limits off, headers off, an ambiguous header limit) is left to Flask.

log = logging.getLogger(__name__)
ADDRESS_SCOPE, NUMBER_SCOPE = "resident-address", "resident-number"

# KEYS: the number limits' keys (tested), then the address limits' (hit). ARGV[1]: how many
# tested; ARGV[2]: the header's key (its index in KEYS); then each tested key's amount; then each
# hit key's amount and expiry. Nothing is counted when a limit is reached (Flask then answers
# the 429 and counts it): "0"; else "count ttl" of the header's key after counting (one string:
# a reply the client parses at once).
COUNT_LUA = """
local tested = tonumber(ARGV[1])
for i = 1, tested do
  if tonumber(redis.call('get', KEYS[i]) or '0') >= tonumber(ARGV[2 + i]) then return '0' end
end
local at = 3 + tested
for i = tested + 1, #KEYS do
  local amount = tonumber(ARGV[at + 2 * (i - tested - 1)])
  if tonumber(redis.call('get', KEYS[i]) or '0') + 1 > amount then return '0' end
end
for i = tested + 1, #KEYS do
  local current = redis.call('incrby', KEYS[i], 1)
  if current == 1 then redis.call('expire', KEYS[i], ARGV[at + 2 * (i - tested - 1) + 1]) end
end
local key = KEYS[tonumber(ARGV[2])]
return (redis.call('get', key) or '0') .. ' ' .. redis.call('ttl', key)
"""
GIVE_BACK_LUA = """
for i = 1, #KEYS do
  if redis.call('exists', KEYS[i]) == 1 then redis.call('decrby', KEYS[i], 1) end
end
return #KEYS
"""
MEMORY_LOCK = threading.Lock()


@functools.cache
def _items(address: str, number: str):
    """(address items, number items, the header's index in number items + address items).

    The route's limits, in the order Flask-Limiter holds them (the number's decorator is the
    inner one, so its limits come first), sorted by window, stably: the first is the one its
    headers describe."""
    hit, tested = parse_many(address), parse_many(number)
    every = [*tested, *hit]
    header = min(range(len(every)), key=lambda i: every[i].GRANULARITY.seconds) if every else None
    return hit, tested, header


@dataclass
class Counted:
    """A lookup counted outside Flask: its rate-limit headers, and how to undo the count."""

    headers: list[tuple[str, str]]
    keys: list[str]
    storage: object


COUNT_SHA = hashlib.sha1(COUNT_LUA.encode()).hexdigest()  # noqa: S324 - Redis's script id


class Pending:
    """A count sent to Redis and not read yet (`result` reads it), or one already made."""

    def __init__(
        self,
        done=None,
        *,
        connection=None,
        pool=None,
        storage=None,
        arguments=(),
        header=None,
        undo=(),
    ):
        self.done, self.connection, self.pool = done, connection, pool
        self.storage, self.arguments = storage, arguments  # EVALSHA's (or EVAL's) arguments
        self.header, self.undo = header, undo

    def result(self) -> Counted | None:
        """The count (headers, what to give back), or None: Flask counts this request."""
        if self.connection is None:
            return self.done
        connection, self.connection = self.connection, None
        try:
            try:
                reply = connection.read_response()
            except NoScriptError:  # Redis restarted (or the first call): send the script itself
                connection.send_command("EVAL", COUNT_LUA, *self.arguments)
                reply = connection.read_response()
        except Exception as error:  # noqa: BLE001 - Redis away: Flask-Limiter answers its way
            log.warning("lookup counting failed, Flask counts: %s", error)
            connection.disconnect()
            return None
        finally:
            self.pool.release(connection)
        out = reply.split()
        if len(out) != 2:
            return None
        current, ttl = int(out[0]), int(out[1])
        return counted(self.header, current, max(ttl, 0) + time.time(), self.undo, self.storage)


def count(app, environ: dict, number: str) -> Counted | None:
    """Count a lookup from the request's address as Flask-Limiter would, or None: Flask counts
    (a limit reached, the storage failing, or a set-up this does not know). `number`: normalised
    (submitted_number)."""
    pending = begin(app, environ, number)
    return None if pending is None else pending.result()


def begin(app, environ: dict, number: str) -> Pending | None:
    """`count`, sent: on Redis the script goes out and its answer is read by `result`, so the
    caller's statement can run meanwhile (one round trip's wait instead of two). None: Flask
    counts this request."""
    try:
        return _begin(app, environ, number)
    except Exception as error:  # noqa: BLE001 - Redis away: Flask-Limiter answers it its way
        log.warning("lookup counting failed, Flask counts: %s", error)
        return None


def counted(item, current: int, reset: float, undo, storage) -> Counted:
    """The headers Flask-Limiter sends for `item` at `current` hits, reset at `reset`."""
    reset_at = int(reset + 1)  # Flask-Limiter's RequestLimit.reset_at
    headers = [
        ("X-RateLimit-Limit", str(item.amount)),
        ("X-RateLimit-Remaining", str(max(0, item.amount - current))),
        ("X-RateLimit-Reset", str(reset_at)),
        ("Retry-After", str(int(reset_at - time.time()))),
    ]
    return Counted(headers, list(undo), storage)


def _begin(app, environ: dict, number: str) -> Pending | None:
    config = app.config
    if not (limiter.enabled and config.get("RATELIMIT_HEADERS_ENABLED")):
        return None
    strategy = limiter.limiter
    if type(strategy) is not FixedWindowRateLimiter:
        return None
    storage = strategy.storage
    hit, tested, header = _items(config["RESIDENT_LIMIT_ADDRESS"], config["RESIDENT_LIMIT_NUMBER"])
    address = environ.get("REMOTE_ADDR") or ""
    if header is None or not address or not number:
        return None
    prefix = [config["RATELIMIT_KEY_PREFIX"]] if config.get("RATELIMIT_KEY_PREFIX") else []
    hit_keys = [item.key_for(*prefix, address, ADDRESS_SCOPE) for item in hit]
    tested_keys = [item.key_for(*prefix, "receipt:" + number, NUMBER_SCOPE) for item in tested]
    item = (tested + hit)[header]
    if type(storage) is RedisStorage:
        keys = [storage.prefixed_key(k) for k in tested_keys + hit_keys]
        argv = [len(tested), header + 1, *(item.amount for item in tested)]
        for limit in hit:
            argv += [limit.amount, limit.get_expiry()]
        pool = storage.get_connection().connection_pool
        connection = pool.get_connection()
        pending = Pending(
            connection=connection,
            pool=pool,
            storage=storage,
            arguments=[len(keys), *keys, *argv],
            header=item,
            undo=keys[len(tested_keys) :],
        )
        try:
            connection.send_command("EVALSHA", COUNT_SHA, *pending.arguments)
        except Exception:
            connection.disconnect()
            pool.release(connection)
            raise
        return pending
    if type(storage) is MemoryStorage:
        pairs = [*zip(tested_keys, tested, strict=True), *zip(hit_keys, hit, strict=True)]
        with MEMORY_LOCK:
            if any(storage.get(k) >= limit.amount for k, limit in pairs[: len(tested)]):
                return Pending(None)
            if any(storage.get(k) + 1 > limit.amount for k, limit in pairs[len(tested) :]):
                return Pending(None)
            for k, limit in pairs[len(tested) :]:
                storage.incr(k, limit.get_expiry())
            key = pairs[header][0]
            current, reset = storage.get(key), storage.get_expiry(key)
        return Pending(counted(item, current, reset, hit_keys, storage))
    return None


def give_back(counted: Counted) -> None:
    """Undo `count` (the request goes to Flask, which counts it again)."""
    try:
        _give_back(counted)
    except Exception as error:  # noqa: BLE001 - the count stays: at worst one lookup too many
        log.warning("giving a lookup's count back failed: %s", error)


def _give_back(counted: Counted) -> None:
    storage = counted.storage
    if type(storage) is RedisStorage:
        storage.get_connection().eval(GIVE_BACK_LUA, len(counted.keys), *counted.keys)
    else:
        with MEMORY_LOCK:
            for key in counted.keys:
                storage.decr(key)
