"""Typed errors raised by :mod:`cloudbackup`.

Every error carries the real Alibaba Cloud API error ``code`` where one exists (for example
``InvalidDiskId.NotFound`` or ``QuotaExceed.Snapshot``), the ``http_status`` the real API
answers with, the ``ids`` of the resources involved, a human ``message`` and a ``recommend``
sentence that tells the caller what to do. A service call that raises one of these has changed
nothing. ``Cloud.run_until`` / ``Cloud.advance`` commit each timed event on its own, so when one
of them raises, the events before it have happened and virtual time stands where they left it.

The tree::

    CloudBackupError                      (Exception) root of everything raised on purpose
    ├── InvalidParameterError             (ValueError) malformed or out-of-range input, 400
    │   ├── DependencyViolationError      mutually exclusive / inconsistent parameters
    │   └── InvalidScheduleError          a malformed schedule, cron or duration (BadRequest)
    ├── ResourceNotFoundError             (LookupError) an id that does not exist, 404
    ├── IncorrectStatusError              a resource is in the wrong state for the call, 403
    ├── QuotaExceededError                a count or capacity limit would be exceeded, 403
    ├── OperationDeniedError              (PermissionError) refused by a rule (lock, usage), 403
    ├── KmsKeyError                       a KMS key cannot be used (disabled, deleted, wrong spec)
    ├── UnsupportedOperationError         the model or the region does not support the call
    ├── DryRunOperationError              a dry run passed: the call would succeed, 400
    └── StorageBackendError               (OSError) the storage backend failed or is unusable

Errors are picklable, so they cross process boundaries (``multiprocessing``, pytest-xdist).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "CloudBackupError",
    "DependencyViolationError",
    "DryRunOperationError",
    "IncorrectStatusError",
    "InvalidParameterError",
    "InvalidScheduleError",
    "KmsKeyError",
    "OperationDeniedError",
    "QuotaExceededError",
    "ResourceNotFoundError",
    "StorageBackendError",
    "UnsupportedOperationError",
]


class CloudBackupError(Exception):
    """Root of every error that :mod:`cloudbackup` raises on purpose.

    Attributes:
        code: The real API's error code, e.g. ``"InvalidDiskId.NotFound"``.
        message: What went wrong, in a sentence.
        http_status: The HTTP status the real API answers with.
        ids: The ids of the resources involved, in the order they matter.
        recommend: What the caller can do about it.
    """

    default_code: str = "InternalError"
    default_http_status: int = 500

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        ids: Iterable[str] = (),
        recommend: str = "",
    ) -> None:
        self.code: str = code if code is not None else self.default_code
        self.message: str = message
        self.http_status: int = http_status if http_status is not None else self.default_http_status
        self.ids: tuple[str, ...] = tuple(ids)
        self.recommend: str = recommend
        super().__init__(message)

    def __str__(self) -> str:
        text = f"{self.code}: {self.message}"
        if self.recommend:
            text += f" Recommend: {self.recommend}"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, ids={self.ids!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _rebuild,
            (type(self), self.message, self.code, self.http_status, self.ids, self.recommend),
        )

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, CloudBackupError)
        return (self.code, self.message, self.http_status, self.ids, self.recommend) == (
            other.code,
            other.message,
            other.http_status,
            other.ids,
            other.recommend,
        )

    def __hash__(self) -> int:
        return hash((type(self), self.code, self.message, self.ids))


def _rebuild(
    cls: type[CloudBackupError],
    message: str,
    code: str,
    http_status: int,
    ids: tuple[str, ...],
    recommend: str,
) -> CloudBackupError:
    return cls(message, code=code, http_status=http_status, ids=ids, recommend=recommend)


class InvalidParameterError(CloudBackupError, ValueError):
    """A parameter is malformed, out of range or not allowed here."""

    default_code = "InvalidParameter"
    default_http_status = 400


class DependencyViolationError(InvalidParameterError):
    """Parameters conflict with each other or with the resources they name."""

    default_code = "InvalidParameter.Conflict"


class InvalidScheduleError(InvalidParameterError):
    """A Cloud Backup schedule (``I|…`` / ``C|…``), cron expression or ISO 8601 duration is
    malformed; the message names the parameter and the field or character that is wrong.

    Cloud Backup answers a malformed request with ``BadRequest`` (HTTP 400).
    """

    default_code = "BadRequest"


class ResourceNotFoundError(CloudBackupError, LookupError):
    """An id names nothing that exists (in this region, for this account)."""

    default_code = "ResourceNotFound"
    default_http_status = 404


class IncorrectStatusError(CloudBackupError):
    """A resource is in a state that does not allow the call."""

    default_code = "IncorrectStatus"
    default_http_status = 403


class QuotaExceededError(CloudBackupError):
    """A count or capacity limit would be exceeded."""

    default_code = "QuotaExceed"
    default_http_status = 403


class OperationDeniedError(CloudBackupError, PermissionError):
    """A rule of the service refuses the call (a lock, a dependent resource)."""

    default_code = "OperationDenied"
    default_http_status = 403


class KmsKeyError(CloudBackupError):
    """A KMS key cannot be used: missing, disabled, pending deletion, wrong spec or region."""

    default_code = "InvalidParameter.KMSKeyId.CMKNotEnabled"
    default_http_status = 403


class UnsupportedOperationError(CloudBackupError):
    """The region, the resource type or this model does not support the call."""

    default_code = "OperationDenied.NotSupported"
    default_http_status = 400


class StorageBackendError(CloudBackupError, OSError):
    """The storage backend failed, is closed, or holds data this version cannot read."""

    default_code = "StorageBackendError"
    default_http_status = 500


class DryRunOperationError(CloudBackupError):
    """Not a failure: a ``dry_run=True`` request passed every check and would have succeeded.

    The real API answers a successful dry run with the error code ``DryRunOperation``; as with
    every error here, the call changed nothing.
    """

    default_code = "DryRunOperation"
    default_http_status = 400
