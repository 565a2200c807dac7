"""Typed errors: one class per gRPC status code the service answers with (the REST routes' HTTP
statuses map onto the same classes), plus ExportFailedError for an export that ended badly."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import grpc

if TYPE_CHECKING:
    from labelport.v1.export_pb2 import Export


class LabelportError(Exception):
    """Any error the service answered with. `code` is the gRPC status name, e.g. "NOT_FOUND"."""

    code = "UNKNOWN"

    def __init__(self, message: str, *, code: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidArgumentError(LabelportError):
    code = "INVALID_ARGUMENT"


class NotFoundError(LabelportError):
    code = "NOT_FOUND"


class AlreadyExistsError(LabelportError):
    code = "ALREADY_EXISTS"


class PermissionDeniedError(LabelportError):
    code = "PERMISSION_DENIED"


class UnauthenticatedError(LabelportError):
    code = "UNAUTHENTICATED"


class FailedPreconditionError(LabelportError):
    code = "FAILED_PRECONDITION"


class ResourceExhaustedError(LabelportError):
    code = "RESOURCE_EXHAUSTED"


class UnavailableError(LabelportError):
    code = "UNAVAILABLE"


class DeadlineExceededError(LabelportError):
    code = "DEADLINE_EXCEEDED"


class ExportFailedError(LabelportError):
    """The export waited for ended FAILED or CANCELED; `export` is its final state."""

    code = "EXPORT_FAILED"

    def __init__(self, export: Export) -> None:
        from labelport.v1.export_pb2 import ExportStatus

        if export.status == ExportStatus.EXPORT_STATUS_CANCELED:
            message = f"export {export.id} was canceled"
        else:
            message = f"export {export.id} failed: {export.error_message or 'no error message'}"
        super().__init__(message)
        self.export = export


_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}

# The REST routes' statuses (the orchestrator's error catalogue maps codes to these).
_BY_HTTP_STATUS = {
    400: InvalidArgumentError,
    401: UnauthenticatedError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: FailedPreconditionError,
    413: ResourceExhaustedError,
    415: InvalidArgumentError,
    503: UnavailableError,
    504: DeadlineExceededError,
}


def from_rpc_error(err: grpc.RpcError) -> LabelportError:
    status = err.code()  # type: ignore[attr-defined]
    message = err.details() or status.name  # type: ignore[attr-defined]
    return _BY_STATUS.get(status, LabelportError)(message, code=status.name)


def from_http_error(status: int, message: str) -> LabelportError:
    cls = _BY_HTTP_STATUS.get(status, LabelportError)
    return cls(message, code=None if cls is not LabelportError else f"HTTP_{status}")
