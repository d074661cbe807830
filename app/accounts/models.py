"""Users, their grid cells, login sessions and API tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean
from sqlalchemy import CheckConstraint
from sqlalchemy import Column
from sqlalchemy import DateTime
from sqlalchemy import ForeignKey
from sqlalchemy import Index
from sqlalchemy import String
from sqlalchemy import Table
from sqlalchemy import func
from sqlalchemy.orm import Mapped
from sqlalchemy.orm import mapped_column
from sqlalchemy.orm import relationship

from app.extensions import db
from app.geo.models import GridCell
from app.geo.models import Region

ROLES = ("grid_worker", "mediator", "official", "admin", "department_staff")
ROLE_NAMES = {
    "grid_worker": "网格员",
    "mediator": "调解员",
    "official": "干部",
    "admin": "系统管理员",
    "department_staff": "部门工作人员",
}

# A grid worker patrols one or more grid cells of their village.
user_grid_cells = Table(
    "user_grid_cells",
    db.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("grid_cell_id", ForeignKey("grid_cells.id", ondelete="RESTRICT"), primary_key=True),
)


class User(db.Model):
    """A person who signs in: role and one jurisdiction region. Deactivated, never deleted."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "role IN ('grid_worker', 'mediator', 'official', 'admin', 'department_staff')",
            name="role",
        ),
        # Department staff belong to one unit (shared/DOMAIN.md §8); nobody else does.
        CheckConstraint(
            "(role = 'department_staff') = (department_id IS NOT NULL)", name="department"
        ),
        CheckConstraint("username ~ '^[a-z0-9_.-]{3,40}$'", name="username_format"),
        Index("ix_users_region_id", "region_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20))
    role: Mapped[str] = mapped_column(String(20))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="RESTRICT"))
    # Department staff's unit (app/dispatch/models.py); their region is the unit's region.
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="RESTRICT")
    )
    password_hash: Mapped[str] = mapped_column(String(255))
    password_changed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    region: Mapped[Region] = relationship()
    department = relationship("Department")
    grid_cells: Mapped[list[GridCell]] = relationship(
        secondary=user_grid_cells, order_by=GridCell.code
    )

    # Flask-Login: set per request to the login session that authenticated this user.
    login_session_id = None
    via_token = False
    # Set by the authentication cache (app/accounts/principals.py): (scope_key, Scope).
    known_scope = None

    @property
    def is_authenticated(self) -> bool:
        """Flask-Login: a loaded user is authenticated."""
        return True

    @property
    def is_active(self) -> bool:
        """Flask-Login: deactivated users cannot sign in."""
        return bool(self.active)

    @property
    def is_anonymous(self) -> bool:
        """Flask-Login: never anonymous."""
        return False

    def get_id(self) -> str | None:
        """Flask-Login stores the login session's id, not the user's: logout can end it."""
        return self.login_session_id

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class LoginSession(db.Model):
    """A server-side record of a browser login, so that a copied cookie dies with it."""

    __tablename__ = "login_sessions"
    __table_args__ = (Index("ix_login_sessions_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(20))
    client_addr: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship()


class ApiToken(db.Model):
    """A bearer token for phones and integrations; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
