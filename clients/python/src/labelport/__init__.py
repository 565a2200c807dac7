"""Python client for Labelport. The message classes and stubs generated from proto/ are in
labelport.v1 (e.g. `from labelport.v1.export_pb2 import ExportStatus`)."""

from labelport.client import Client
from labelport.errors import (
    AlreadyExistsError,
    DeadlineExceededError,
    ExportFailedError,
    FailedPreconditionError,
    InvalidArgumentError,
    LabelportError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)

__all__ = [
    "AlreadyExistsError",
    "Client",
    "DeadlineExceededError",
    "ExportFailedError",
    "FailedPreconditionError",
    "InvalidArgumentError",
    "LabelportError",
    "NotFoundError",
    "PermissionDeniedError",
    "ResourceExhaustedError",
    "UnauthenticatedError",
    "UnavailableError",
]
