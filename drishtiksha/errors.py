"""Domain errors raised by services and selectors.

Services know nothing of HTTP; they raise one of these and the API's exception handler (and the
pages) map it to a response in one place. Each class carries the HTTP status it maps to, so a new
error needs no change to the handler.
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400
    default_message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, field_errors: dict[str, str] | None = None):
        self.message = message or self.default_message
        # Wire-format (camelCase) field name -> message, for the error envelope's `errors` list.
        self.field_errors = field_errors or {}
        super().__init__(self.message)


class ValidationFailed(DomainError):
    status_code = 400
    default_message = "Invalid input."


class AuthenticationFailed(DomainError):
    status_code = 401
    default_message = "Authentication failed."


class PermissionDenied(DomainError):
    status_code = 403
    default_message = "You do not have permission to perform this action."


class NotFound(DomainError):
    status_code = 404
    default_message = "Not found."


class Conflict(DomainError):
    status_code = 409
    default_message = "The request conflicts with the current state."


class PayloadTooLarge(DomainError):
    status_code = 413
    default_message = "The upload is too large."


class UnsupportedMediaType(DomainError):
    status_code = 415
    default_message = "Unsupported media type."


class ServiceUnavailable(DomainError):
    status_code = 503
    default_message = "A service this request depends on is unavailable."


class GatewayTimeout(DomainError):
    status_code = 504
    default_message = "A service this request depends on did not answer in time."


class TooManyRequests(DomainError):
    status_code = 429
    default_message = "Too many attempts. Try again later."

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: int,
        field_errors: dict[str, str] | None = None,
    ):
        # Seconds until the caller may try again; sent as the Retry-After header.
        self.retry_after = retry_after
        super().__init__(message, field_errors=field_errors)
