"""The one exception tree of seedance-mcp.

    SeedanceError                 every failure we anticipate; its message is a sentence a model can act on
    ├── ConfigError               a setting is missing or wrong (names the environment variable)
    ├── InputError                an argument breaks a documented limit (names the field, the limit, the fix)
    ├── BudgetError               a spending cap or the user's answer stops the request; nothing was spent
    ├── JobNotFound               no job with that id in the journal
    └── ProviderError             the provider said no, or could not be reached
        ├── ProviderHTTPError     an HTTP error answer, with status and the provider's error type
        ├── SubmitUncertain       a submit may or may not have reached the provider (never retried blindly)
        └── JobFailed             the job ran and ended in an error (content policy, timeout, ...)

The server turns each into a `ToolError` carrying `str(error)`; anything else is a bug.
"""

from __future__ import annotations


class SeedanceError(Exception):
    """Base of every anticipated failure; `str()` is the message shown to the assistant."""


class ConfigError(SeedanceError):
    pass


class InputError(SeedanceError):
    """A tool argument breaks a documented limit. Raised before anything is uploaded or paid for."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class BudgetError(SeedanceError):
    pass


class JobNotFound(SeedanceError):
    pass


class ProviderError(SeedanceError):
    pass


class ProviderHTTPError(ProviderError):
    def __init__(self, message: str, *, status: int, error_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type

    @property
    def retryable(self) -> bool:
        return self.status in RETRYABLE_STATUS


class SubmitUncertain(ProviderError):
    pass


class JobFailed(ProviderError):
    def __init__(self, message: str, *, error_type: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type


# 408/409 and 429 are "try later"; 502-504 are gateway hiccups in front of a healthy queue.
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})
