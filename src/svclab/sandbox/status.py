"""API errors as the API server reports them: `Status` objects with a code, a reason and causes.

Messages follow k8s.io/apimachinery ``pkg/api/errors/errors.go`` (``NewNotFound``,
``NewAlreadyExists``, ``NewConflict``, ``NewInvalid``, ``NewResourceExpired`` …).

>>> err = not_found("services", "", "web")
>>> err.code, err.status()["message"], err.status()["details"]
(404, 'services "web" not found', {'name': 'web', 'kind': 'services'})
>>> from svclab.errors import ManifestError
>>> bad = ManifestError("<request>", "Service default/web", "spec.ports[0].port",
...                     "Invalid value: 0: must be between 1 and 65535, inclusive")
>>> err = invalid("Service", "", "web", bad)
>>> err.code, err.status()["message"]
(422, 'Service "web" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive')
>>> err.status()["details"]["causes"]
[{'reason': 'FieldValueInvalid', 'message': 'Invalid value: 0: must be between 1 and 65535, inclusive', 'field': 'spec.ports[0].port'}]
"""

from __future__ import annotations

from typing import Any

from svclab.errors import ManifestError

# field.ErrorType.String() prefixes (apimachinery pkg/util/validation/field/errors.go) → cause type.
_CAUSE_TYPES = (
    ("Required value", "FieldValueRequired"),
    ("Duplicate value", "FieldValueDuplicate"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Forbidden", "FieldValueForbidden"),
    ("Too long", "FieldValueTooLong"),
    ("Too many", "FieldValueTooMany"),
    ("Not found", "FieldValueNotFound"),
)


class ApiError(Exception):
    """A failed request, carried to the HTTP layer as a ``Status`` object."""

    def __init__(
        self, code: int, reason: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict[str, Any]:
        """The ``Status`` object (``kind: Status``, ``status: Failure``)."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details is not None:
            body["details"] = self.details
        return body


def _qualified(plural: str, group: str) -> str:
    """``GroupResource.String()``: ``services``, ``deployments.apps``."""
    return f"{plural}.{group}" if group else plural


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details = {"name": name, "group": group, "kind": kind}
    return {key: value for key, value in details.items() if value}


def not_found(plural: str, group: str, name: str) -> ApiError:
    """404: the named object does not exist."""
    return ApiError(
        404,
        "NotFound",
        f'{_qualified(plural, group)} "{name}" not found',
        _details(name, group, plural),
    )


def already_exists(plural: str, group: str, name: str) -> ApiError:
    """409 AlreadyExists: create of a name already taken."""
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(plural, group)} "{name}" already exists',
        _details(name, group, plural),
    )


def conflict(plural: str, group: str, name: str, why: str) -> ApiError:
    """409 Conflict: a precondition (resourceVersion, uid) no longer holds.

    >>> conflict("services", "", "web", "the object has been modified").message
    'Operation cannot be fulfilled on services "web": the object has been modified'
    """
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(plural, group)} "{name}": {why}',
        _details(name, group, plural),
    )


def invalid(kind: str, group: str, name: str, error: ManifestError) -> ApiError:
    """422 Invalid, one cause per field error (here: the one `ManifestError` names)."""
    cause_type = next(
        (cause for prefix, cause in _CAUSE_TYPES if error.rule.startswith(prefix)),
        "FieldValueInvalid",
    )
    cause = {"reason": cause_type, "message": error.rule, "field": error.field}
    where = f"{error.field}: " if error.field else ""
    qualified_kind = f"{kind}.{group}" if group else kind
    details = _details(name, group, kind) | {"causes": [cause]}
    return ApiError(
        422, "Invalid", f'{qualified_kind} "{name}" is invalid: {where}{error.rule}', details
    )


def bad_request(message: str) -> ApiError:
    """400 BadRequest."""
    return ApiError(400, "BadRequest", message)


def method_not_allowed(plural: str, group: str, action: str) -> ApiError:
    """405: the resource does not support this verb.

    >>> method_not_allowed("nodes", "", "create").message
    'create is not supported on resources of kind "nodes"'
    """
    return ApiError(
        405,
        "MethodNotAllowed",
        f'{action} is not supported on resources of kind "{_qualified(plural, group)}"',
        _details("", group, plural),
    )


def method_not_allowed_here() -> ApiError:
    """405 for an HTTP method the path has no route for (the API server's generic wording)."""
    return ApiError(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unsupported_media_type(content_type: str, accepted: tuple[str, ...]) -> ApiError:
    """415, as the API server words it for a body it cannot decode."""
    return ApiError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: {', '.join(accepted)}",
        {"causes": [{"reason": "UnsupportedMediaType", "message": content_type}]}
        if content_type
        else None,
    )


def not_acceptable(message: str) -> ApiError:
    """406: no representation the client accepts."""
    return ApiError(406, "NotAcceptable", message)


def expired(message: str) -> ApiError:
    """410 Expired: a resourceVersion older than the kept history."""
    return ApiError(410, "Expired", message)


def too_large_resource_version(asked: int, current: int) -> ApiError:
    """504 Timeout with the ResourceVersionTooLarge cause (apiserver ``storage/errors.go``)."""
    return ApiError(
        504,
        "Timeout",
        f"Timeout: Too large resource version: {asked}, current: {current}",
        {
            "causes": [
                {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
            ],
            "retryAfterSeconds": 1,
        },
    )


def entity_too_large(limit: int) -> ApiError:
    """413: a request body over the limit."""
    return ApiError(413, "RequestEntityTooLarge", f"Request entity too large: limit is {limit}")


def resource_not_found() -> ApiError:
    """404 for a path that names no resource (the API server's wording)."""
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def internal(error: BaseException) -> ApiError:
    """500: a bug in the sandbox, reported without a traceback."""
    return ApiError(
        500,
        "InternalError",
        f"Internal error occurred: {error}",
        {"causes": [{"message": str(error)}]},
    )
