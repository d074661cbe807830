"""Configuration from the environment; no default secrets."""

import os
from urllib.parse import parse_qsl
from urllib.parse import urlencode

import click
from flask.cli import ScriptInfo

from app.geo import basemaps

# Printed when the app has no database: by gunicorn at start-up, by `flask` commands that need one.
NO_DATABASE_URL = (
    "DATABASE_URL is not set: run `make db` first (it starts the embedded database and writes "
    "its URL into .env), or set DATABASE_URL"
)
# What a `flask` command binds when DATABASE_URL is unset (see without_database).
UNCONFIGURED_URL = "postgresql+psycopg2://"


class DatabaseNotConfigured(click.ClickException, RuntimeError):
    """No DATABASE_URL. Click prints it on one line and exits 1; anything else sees RuntimeError."""

    def __init__(self) -> None:
        super().__init__(NO_DATABASE_URL)


def _refuse_connection():
    """The engine's connection factory when there is no database: say so, connect nowhere."""
    raise DatabaseNotConfigured()


def _loaded_by_flask_command() -> bool:
    """Whether the `flask` command is loading the app, for anything but `flask run`."""
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.find_object(ScriptInfo) is not None and ctx.info_name != "run"


def without_database(config) -> None:
    """No DATABASE_URL: refuse to serve; let the other `flask` commands load without one.

    Serving (gunicorn's `wsgi:app`, `flask run`) raises DatabaseNotConfigured: an app that could
    not answer a single request must not start. A `flask` command (`--help`, `cases docs`,
    `users create`, ...) gets an engine whose first connection raises DatabaseNotConfigured
    instead of trying some default server, so every command and its --help load, and the ones
    that need the database stop with NO_DATABASE_URL and exit 1.
    """
    if not _loaded_by_flask_command():
        raise DatabaseNotConfigured()
    config["SQLALCHEMY_DATABASE_URI"] = UNCONFIGURED_URL
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **config["SQLALCHEMY_ENGINE_OPTIONS"],
        "creator": _refuse_connection,
    }


def database_configured(config) -> bool:
    """Whether the app was given a real database (commands that pass its URL on check this)."""
    return config["SQLALCHEMY_DATABASE_URI"] != UNCONFIGURED_URL


def _int(name: str, default: int) -> int:
    """Read an integer setting from the environment."""
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def sqlalchemy_url(url: str) -> str:
    """Use psycopg2 for plain postgresql:// URLs (SQLAlchemy 2.1 defaults to psycopg 3)."""
    url = multi_host_url(url)
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    return url


def multi_host_url(url: str) -> str:
    """`?host=a:5432,b:5433` (several servers, docs/operations.md) as libpq reads it.

    libpq takes a list of hosts and a list of ports (`host=a,b&port=5432,5433`); neither it nor
    SQLAlchemy splits `host:port` inside the host parameter. Other URLs are returned unchanged.
    """
    head, sep, query = url.partition("?")
    params = parse_qsl(query, keep_blank_values=True) if sep else []
    hosts = [value for key, value in params if key == "host"]
    if len(hosts) != 1 or "," not in hosts[0] or ":" not in hosts[0]:
        return url
    pairs = [item.rpartition(":") for item in hosts[0].split(",")]
    if any(not host or not port.isdigit() for host, _, port in pairs):
        return url
    rest = [(key, value) for key, value in params if key not in ("host", "port")]
    hosts = ",".join(host for host, _, _ in pairs)
    ports = ",".join(port for _, _, port in pairs)
    return f"{head}?{urlencode([('host', hosts), ('port', ports), *rest], safe='/:,')}"


def _bool(name: str, default: bool) -> bool:
    """Read a boolean setting (1/true/yes/on)."""
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


class Config:
    """Settings read once when the app is created (see README, "Configuration")."""

    def __init__(self) -> None:
        self.SQLALCHEMY_DATABASE_URI = sqlalchemy_url(os.environ.get("DATABASE_URL", ""))
        # No pool pre-ping (issue 18): it cost a round trip on every checkout. A connection that
        # died in the pool fails its first statement instead; SQLAlchemy then discards it and
        # every connection older than it, and the request answers 503 with Retry-After
        # (app/errors.py), or retries at once when nothing of it has run yet (the accounts
        # version read, app/accounts/principals.py).
        # The pool hands out the connection used last (LIFO): after a burst (a map page's
        # tiles) a quiet request still meets a warm backend, with its prepared statements,
        # plans and caches, rather than the one idle longest (FIFO rotated every request over
        # all of them; issue 18, bench/NOTES.md); the idle rest can time out at the server.
        self.SQLALCHEMY_ENGINE_OPTIONS = {
            "pool_size": _int("DB_POOL_SIZE", 5),
            "pool_use_lifo": True,
            "connect_args": {
                "connect_timeout": _int("DB_CONNECT_TIMEOUT", 5),
                "application_name": "gridgov",
                # PostGIS functions carry high planner costs that trigger JIT compilation,
                # which costs far more than it saves on these short queries. The statement
                # timeout stops one runaway query from holding a worker and a connection; the
                # app answers 503 when it fires (app/errors.py). 0 turns it off.
                "options": (
                    f"-c jit=off -c statement_timeout={_int('DB_STATEMENT_TIMEOUT_MS', 15000)}"
                ),
            },
        }
        # High availability (issue 20, docs/operations.md): heavy reads (tiles, map layers,
        # measures, exports) on a standby through a second engine (app/core/replica.py); unset,
        # they use the primary. A 503 for a lost database connection says when to retry.
        self.REPLICA_DATABASE_URI = sqlalchemy_url(os.environ.get("REPLICA_DATABASE_URL", ""))
        self.DB_RETRY_AFTER_SECONDS = _int("DB_RETRY_AFTER_SECONDS", 5)
        # Sessions are signed with SECRET_KEY; without it a random per-process key is used,
        # which is fine for development but logs everyone out on restart (README says so).
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or os.urandom(32).hex()
        # Key rotation (docs/deployment.md): old keys, comma-separated, still accepted on
        # session cookies until they expire; new cookies are signed with SECRET_KEY only.
        self.SECRET_KEY_FALLBACKS = [
            key.strip()
            for key in os.environ.get("SECRET_KEY_FALLBACKS", "").split(",")
            if key.strip()
        ]
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        # Operations (app/ops, docs/operations.md): log format, /metrics access, proxy hops.
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT", "text")
        self.METRICS_TOKEN = os.environ.get("METRICS_TOKEN") or None
        self.PROXY_FIX_HOPS = _int("PROXY_FIX_HOPS", 0)
        self.GRID_CELLS_DEFAULT_LIMIT = _int("GRID_CELLS_DEFAULT_LIMIT", 1000)
        # Vector tiles (app/tiles): bytes of tiles each worker process keeps; 0 keeps none.
        self.TILE_CACHE_BYTES = _int("TILE_CACHE_BYTES", 64 * 1024 * 1024)
        # How long a tile key (app/tiles/keys.py) opens its holder's tiles, in seconds.
        self.TILE_KEY_SECONDS = _int("TILE_KEY_SECONDS", 600)
        # Cases a detail tile holds before it is drawn as clusters (app/tiles, docs/api.md).
        self.TILE_CLUSTER_CASES = _int("TILE_CLUSTER_CASES", 8000)
        # The fast paths' statements prepared once per connection (app/core/fast.py); off behind
        # PgBouncer in transaction mode, which shares a connection between transactions.
        self.FAST_PATH_PREPARED = _bool("FAST_PATH_PREPARED", True)
        self.MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 12 * 1024 * 1024)
        self.JSON_AS_ASCII = False

        # Sessions and sign-in (app/accounts).
        self.SESSION_IDLE_MINUTES = _int("SESSION_IDLE_MINUTES", 30)
        self.SESSION_ABSOLUTE_HOURS = _int("SESSION_ABSOLUTE_HOURS", 12)
        self.PERMANENT_SESSION_LIFETIME = self.SESSION_ABSOLUTE_HOURS * 3600
        self.SESSION_COOKIE_NAME = "gridgov_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        # Secure is also set automatically on requests that arrive over HTTPS.
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_DURATION = 0
        self.API_TOKEN_DAYS = _int("API_TOKEN_DAYS", 90)
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or "memory://"
        self.RATELIMIT_HEADERS_ENABLED = True
        self.LOGIN_LIMIT_ACCOUNT = os.environ.get("LOGIN_LIMIT_ACCOUNT", "5 per 15 minutes")
        self.LOGIN_LIMIT_ADDRESS = os.environ.get("LOGIN_LIMIT_ADDRESS", "30 per 15 minutes")
        # The residents' progress lookup (docs/resident.md): per address; wrong codes per number.
        self.RESIDENT_LIMIT_ADDRESS = os.environ.get(
            "RESIDENT_LIMIT_ADDRESS", "30 per 10 minutes; 200 per day"
        )
        self.RESIDENT_LIMIT_NUMBER = os.environ.get("RESIDENT_LIMIT_NUMBER", "10 per day")
        # Public reads (the progress lookup) audited in batches this often, in milliseconds;
        # 0: each in its own statement (app/audit/deferred.py, docs/resident.md).
        self.AUDIT_PUBLIC_DEFER_MS = _int("AUDIT_PUBLIC_DEFER_MS", 50)
        # CSRF tokens live as long as the login session (checked only for cookie auth).
        self.WTF_CSRF_CHECK_DEFAULT = False
        self.WTF_CSRF_TIME_LIMIT = None
        # Personal data (app/pii.py): base64 of at least 32 random bytes. Required to store
        # parties; `make db` / `make run` generate one for development in .env.
        self.PERSONAL_DATA_KEY = os.environ.get("PERSONAL_DATA_KEY", "")
        self.ATTACHMENT_DIR = os.environ.get("ATTACHMENT_DIR", "var/attachments")
        self.AUTO_ESCALATE_OVERDUE_ACCEPTANCE = _bool("AUTO_ESCALATE_OVERDUE_ACCEPTANCE", True)
        # Notifications (app/notify, docs/notifications.md): SMS through the local sink (the
        # sms_sink table) or an HTTP provider; the worker delivers them.
        self.SMS_GATEWAY = os.environ.get("SMS_GATEWAY", "sink")
        if self.SMS_GATEWAY not in ("sink", "http"):
            raise ValueError("SMS_GATEWAY must be sink or http")
        self.SMS_PROVIDER_URL = os.environ.get("SMS_PROVIDER_URL", "")
        if self.SMS_GATEWAY == "http" and not self.SMS_PROVIDER_URL:
            raise ValueError("SMS_GATEWAY=http needs SMS_PROVIDER_URL")
        self.SMS_PROVIDER_TOKEN = os.environ.get("SMS_PROVIDER_TOKEN") or None
        self.SMS_PROVIDER_TIMEOUT = _int("SMS_PROVIDER_TIMEOUT", 10)
        # Self-reports (随手拍, docs/resident.md): phone codes and their limits, the time limit.
        self.PHONE_CODE_LIMIT_PHONE = os.environ.get(
            "PHONE_CODE_LIMIT_PHONE", "3 per 10 minutes;10 per day"
        )
        self.PHONE_CODE_LIMIT_ADDRESS = os.environ.get("PHONE_CODE_LIMIT_ADDRESS", "20 per hour")
        self.SELF_REPORT_LIMIT_ADDRESS = os.environ.get("SELF_REPORT_LIMIT_ADDRESS", "20 per hour")
        self.SELF_REPORT_WORKING_DAYS = _int("SELF_REPORT_WORKING_DAYS", 2)
        # Map tiles: a URL template, or "none" for intranets without a tile server.
        self.TILE_URL = os.environ.get("TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
        self.TILE_ATTRIBUTION = os.environ.get(
            "TILE_ATTRIBUTION", "&copy; OpenStreetMap contributors"
        )
        # Base maps (basemaps slice, issue 17 item 6; docs/maps.md): osm, tianditu-vec,
        # tianditu-img, amap, tencent (GCJ-02), none, or custom (TILE_URL in TILE_CRS). TILE_URL
        # alone, as before, means custom.
        self.BASEMAP = (
            (os.environ.get("BASEMAP") or ("custom" if "TILE_URL" in os.environ else "osm"))
            .strip()
            .lower()
        )
        self.TIANDITU_KEY = os.environ.get("TIANDITU_KEY", "")
        self.TILE_CRS = os.environ.get("TILE_CRS", "wgs84")
        basemaps.configured(
            self.BASEMAP,
            tile_url=self.TILE_URL,
            tianditu_key=self.TIANDITU_KEY,
            tile_crs=self.TILE_CRS,
        )  # raises ValueError naming the setting that is wrong

        # Database roles and audit checkpoints (issue 19; docs/operations.md "Database roles",
        # "Audit checkpoints"). Migrations run as MIGRATION_DATABASE_URL's role (the owner; unset:
        # DATABASE_URL's, one role) and grant the app's role (DATABASE_APP_ROLE, else
        # DATABASE_URL's user) what it needs. Checkpoints go to files outside the database,
        # signed with AUDIT_SIGNING_KEY (Ed25519: base64 of the 32-byte key, or a PEM file's path);
        # `flask audit verify` also accepts AUDIT_VERIFY_KEYS (public keys, comma-separated).
        self.MIGRATION_DATABASE_URL = sqlalchemy_url(os.environ.get("MIGRATION_DATABASE_URL", ""))
        self.DATABASE_APP_ROLE = os.environ.get("DATABASE_APP_ROLE") or None
        self.AUDIT_CHECKPOINT_DIR = os.environ.get("AUDIT_CHECKPOINT_DIR", "var/audit-checkpoints")
        self.AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY", "")
        self.AUDIT_VERIFY_KEYS = os.environ.get("AUDIT_VERIFY_KEYS", "")

        # Cameras (雪亮工程, docs/cameras.md): the radius of "cameras nearby" on case and risk
        # point pages, in metres (the API's `radius` goes up to 2000).
        self.CAMERA_NEARBY_RADIUS_M = _int("CAMERA_NEARBY_RADIUS_M", 300)
        if not 1 <= self.CAMERA_NEARBY_RADIUS_M <= 2000:
            raise ValueError("CAMERA_NEARBY_RADIUS_M must be 1–2000")

        # flask-smorest / OpenAPI, with the interactive docs served from app/static.
        self.API_TITLE = "GridGov API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        self.OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"

        # --- privacy (issue 19; docs/privacy.md): `flask cases sweep` also de-identifies ended
        # cases past their retention policy when on (off: run `flask retention run` by hand).
        self.RETENTION_AUTO = _bool("RETENTION_AUTO", False)
