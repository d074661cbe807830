"""Configuration from the environment; no default secrets."""

import os


def _int(name: str, default: int) -> int:
    """Read an integer setting from the environment."""
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def sqlalchemy_url(url: str) -> str:
    """Use psycopg2 for plain postgresql:// URLs (SQLAlchemy 2.1 defaults to psycopg 3)."""
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg2://" + url[len(scheme) :]
    return url


class Config:
    """Settings read once when the app is created (see README, "Configuration")."""

    def __init__(self) -> None:
        self.SQLALCHEMY_DATABASE_URI = sqlalchemy_url(os.environ.get("DATABASE_URL", ""))
        self.SQLALCHEMY_ENGINE_OPTIONS = {
            "pool_pre_ping": True,
            "pool_size": _int("DB_POOL_SIZE", 5),
            "connect_args": {
                "connect_timeout": _int("DB_CONNECT_TIMEOUT", 5),
                "application_name": "gridgov",
                # PostGIS functions carry high planner costs that trigger JIT compilation,
                # which costs far more than it saves on these short queries.
                "options": "-c jit=off",
            },
        }
        # Sessions are signed with SECRET_KEY; without it a random per-process key is used,
        # which is fine for development but logs everyone out on restart (README says so).
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or os.urandom(32).hex()
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
        self.GRID_CELLS_DEFAULT_LIMIT = _int("GRID_CELLS_DEFAULT_LIMIT", 1000)
        self.MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 12 * 1024 * 1024)
        self.JSON_AS_ASCII = False

        # flask-smorest / OpenAPI, with the interactive docs served from app/static.
        self.API_TITLE = "GridGov API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        self.OPENAPI_SWAGGER_UI_PATH = "docs"
        self.OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"
