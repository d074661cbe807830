"""Schemas of the accounts API."""

from marshmallow import Schema
from marshmallow import fields
from marshmallow import validate

from app import jsonfields
from app.accounts.models import ROLES


def mask_phone(phone: str | None) -> str | None:
    """`138****5678`; landlines keep the area code and last four digits."""
    if not phone:
        return phone
    digits = phone.replace("-", "")
    if len(digits) <= 7:
        return "*" * (len(digits) - 2) + digits[-2:]
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


class RegionRefSchema(Schema):
    """A region by code, name and level."""

    code = fields.String()
    name = fields.String()
    level = fields.String()


class GridCellRefSchema(Schema):
    """A grid cell by code and name."""

    code = fields.String()
    name = fields.String()


class DepartmentRefSchema(Schema):
    """A unit (职能部门) by id, code and name."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class UserSchema(Schema):
    """A user as others see them: the phone masked."""

    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    phone = fields.Function(lambda u: mask_phone(u.phone), metadata={"description": "脱敏"})
    role = fields.String()
    region = fields.Nested(RegionRefSchema)
    grid_cells = fields.List(fields.Nested(GridCellRefSchema))
    department = fields.Nested(
        DepartmentRefSchema, allow_none=True, metadata={"description": "部门工作人员所属部门"}
    )
    active = fields.Boolean()
    created_at = fields.DateTime()
    deactivated_at = fields.DateTime(allow_none=True)


class MeSchema(UserSchema):
    """The caller's own profile, with the CSRF token for cookie-authenticated API calls."""

    csrf_token = fields.String(allow_none=True)
    permissions = fields.List(fields.String())


class UserCreateSchema(Schema):
    """A new user."""

    username = fields.String(required=True, validate=validate.Length(3, 40))
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 200))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    region = fields.String(
        required=True, validate=validate.Regexp(r"^\d{12}$", error="应为 12 位区划代码")
    )
    display_name = fields.String(validate=validate.Length(1, 50))
    phone = fields.String(validate=validate.Length(5, 20))
    grid_cells = fields.List(
        fields.String(validate=validate.Regexp(r"^\d{15}$", error="应为 15 位网格代码")),
        load_default=list,
    )
    department = fields.String(
        validate=validate.Length(2, 40),
        metadata={"description": "所属职能部门的代码：部门工作人员必填，其他角色不填"},
    )


class UserQuery(Schema):
    """Filters of the user list."""

    role = fields.String(validate=validate.OneOf(ROLES))
    active = fields.Boolean()
    region = fields.String(validate=validate.Regexp(r"^\d{12}$", error="应为 12 位区划代码"))


class PasswordChangeSchema(Schema):
    """Change one's own password."""

    current_password = fields.String(required=True, load_only=True)
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(1, 200))


class PasswordResetSchema(Schema):
    """An admin sets a user's password."""

    new_password = fields.String(required=True, load_only=True, validate=validate.Length(1, 200))


class TokenLoginSchema(Schema):
    """Sign in with a password to get a bearer token (phones, integrations)."""

    username = fields.String(required=True, validate=validate.Length(1, 40))
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 200))
    name = fields.String(load_default="手机", validate=validate.Length(1, 60))
    days = jsonfields.Integer(validate=validate.Range(1, 366))


class TokenCreateSchema(Schema):
    """An admin creates a token for a user."""

    name = fields.String(load_default="集成", validate=validate.Length(1, 60))
    days = jsonfields.Integer(validate=validate.Range(1, 366))


class TokenSchema(Schema):
    """A token's metadata (never its secret, except once on creation)."""

    id = fields.Integer()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    expires_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)


class TokenOwnerSchema(Schema):
    """Whose token it is."""

    id = fields.Integer()
    username = fields.String()
    role = fields.String()
    region = fields.Nested(RegionRefSchema)


class NewTokenSchema(TokenSchema):
    """A token just created: the secret is shown this once."""

    token = fields.String(metadata={"description": "Authorization: Bearer <token>；只显示一次"})
    user = fields.Nested(TokenOwnerSchema)
