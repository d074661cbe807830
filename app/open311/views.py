"""Open311 GeoReport v2 (/open311/v2/): services, service definitions, requests (list, one,
create), each as .json or .xml, with errors in the spec's shape.

A thin adapter over app/open311/services.py. The views are public (GET is public in the spec;
POST authenticates by its `api_key` form parameter, not by a session or bearer token), and the
request boundary commits a created case.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException

from app.core import transaction
from app.core.errors import DomainError
from app.open311 import services
from app.policy import public

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

FORMAT = "<any(json, xml):fmt>"
# What each list's XML calls itself and its items (the spec's examples).
ROOTS = {
    "services": ("services", "service"),
    "definition": ("service_definition", None),
    "requests": ("service_requests", "request"),
    "errors": ("errors", "error"),
}


def to_xml(value, parent: ET.Element, item: str | None = None) -> None:
    """Append `value` under `parent`: dicts as child elements, lists as repeated `item`s.

    ElementTree escapes text and attribute values; booleans are "true"/"false" and None is an
    empty element, as the spec's examples show.
    """
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "kind":
                continue  # internal: the case kind behind a service code
            if key == "attributes":
                holder = ET.SubElement(parent, "attributes")
                for attribute in child:
                    to_xml(attribute, ET.SubElement(holder, "attribute"))
                continue
            to_xml(child, ET.SubElement(parent, key))
    elif isinstance(value, list):
        for child in value:
            to_xml(child, ET.SubElement(parent, item or "item"))
    elif isinstance(value, bool):
        parent.text = "true" if value else "false"
    elif value is not None:
        parent.text = str(value)


def render(value, fmt: str, kind: str, status: int = 200) -> Response:
    """The answer in the asked format (UTF-8; XML with its declaration)."""
    if fmt == "json":
        response = jsonify(strip(value))
        response.status_code = status
        return response
    root_name, item = ROOTS[kind]
    root = ET.Element(root_name)
    if isinstance(value, list):
        to_xml(value, root, item)
    else:
        to_xml(value, root)
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return Response(
        body, status=status, mimetype="text/xml", content_type="text/xml; charset=utf-8"
    )


def strip(value):
    """The JSON form: without the internal `kind` of services."""
    if isinstance(value, list):
        return [strip(v) for v in value]
    if isinstance(value, dict):
        return {k: strip(v) for k, v in value.items() if k != "kind"}
    return value


def error(status: int, description: str) -> Response:
    """The spec's error shape, in the format the path asked for (JSON by default)."""
    transaction.abort()
    fmt = "xml" if request.path.endswith(".xml") else "json"
    return render([{"code": status, "description": description}], fmt, "errors", status)


@bp.errorhandler(DomainError)
def domain_error(exc: DomainError):
    """Refusals from the services (and the cases they call) in the spec's shape."""
    return error(exc.status, exc.message)


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """405, 413 and the like in the spec's shape."""
    return error(exc.code or 500, exc.description or exc.name)


@bp.route(f"/services.{FORMAT}")
@public
def service_list(fmt: str):
    """Every case category as a service."""
    return render(services.service_list(), fmt, "services")


@bp.route(f"/services/<code>.{FORMAT}")
@public
def service_definition(code: str, fmt: str):
    """A service's definition: its optional attributes (title, occurred_at)."""
    return render(services.definition(code), fmt, "definition")


@bp.route(f"/requests.{FORMAT}")
@public
def request_list(fmt: str):
    """Requests by id list, service, status and period (at most 90 days and 1000 requests).

    With an Open311 `api_key`: the owner's jurisdiction in full (masked); without: public
    fields only (docs/api.md)."""
    who = services.caller(request.args.get("api_key"))
    return render(services.requests(request.args, who), fmt, "requests")


@bp.route(f"/requests/<number>.{FORMAT}")
@public
def request_one(number: str, fmt: str):
    """One request, as a list of one."""
    who = services.caller(request.args.get("api_key"))
    return render(services.one_request(number, who), fmt, "requests")


@bp.route(f"/requests.{FORMAT}", methods=["POST"])
@public
def create_request(fmt: str):
    """Create a request (a case, filed as the key's owner): form parameters as in the spec."""
    who = services.caller(request.form.get("api_key"), required=True)
    return render(services.create(request.form.to_dict(), who), fmt, "requests", 201)
