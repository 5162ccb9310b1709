"""The one exception tree of seedance-mcp, and the one rule for which HTTP answers are worth repeating.

    SeedanceError                 every failure we anticipate; its message is a sentence a model can act on
    ├── ConfigError               a setting is missing or wrong (names the environment variable)
    ├── InputError                an argument breaks a documented limit (names the field, the limit, the fix)
    ├── MediaError                a file is unreadable, truncated, or not a media format we know
    ├── BudgetError               a spending cap or the user's answer stops the request; nothing was spent
    ├── JobNotFound               no job with that id in the journal
    ├── JournalUnavailable        the shared journal's database did not answer for a while (try again)
    └── ProviderError             the provider said no, or could not be reached
        ├── ProviderHTTPError     an HTTP error answer, with status and the provider's error type
        ├── ProviderUnreachable   no usable answer after every retry: the network or the provider is down
        ├── SubmitUncertain       a submit may or may not have reached the provider (never retried blindly)
        ├── JobFailed             the job ran and ended in an error (content policy, timeout, ...)
        └── VideoUnavailable      a finished video's URL will never give it (gone, refused, not a video)

The server turns each into a `ToolError` carrying `str(error)`; anything else is a bug.
"""

from __future__ import annotations

# Answers that mean "the same request may work later", for every HTTP call we make (provider API,
# status polls, result downloads). 408/425/429 are "try later"; 409 is a conflict fal's own client
# retries; 5xx are gateway hiccups in front of a healthy service.
TRY_LATER_STATUS = frozenset({408, 409, 425, 429})
SERVER_ERROR_STATUS = frozenset({500, 502, 503, 504})
RETRYABLE_STATUS = TRY_LATER_STATUS | SERVER_ERROR_STATUS


class SeedanceError(Exception):
    """Base of every anticipated failure; `str()` is the message shown to the assistant."""


class ConfigError(SeedanceError):
    pass


class InputError(SeedanceError):
    """A tool argument breaks a documented limit. Raised before anything is uploaded or paid for."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.problem = message

    def within(self, prefix: str) -> InputError:
        """The same refusal for a field nested under `prefix` (`shots[2].`)."""
        return InputError(prefix + self.field, self.problem)


class MediaError(SeedanceError):
    """A file is unreadable, truncated, or not a media format we know."""


class BudgetError(SeedanceError):
    pass


class JobNotFound(SeedanceError):
    pass


class JournalUnavailable(SeedanceError):
    """The journal's database did not answer through every retry (restarting, stopped, unreachable).
    Nothing about a job is decided on it: followers wait and resume, a tool call says to try again."""


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


class ProviderUnreachable(ProviderError):
    """No usable answer after every retry: the network or the provider's edge is down."""


class SubmitUncertain(ProviderError):
    pass


class JobFailed(ProviderError):
    """A job that ended in an error. `charged` False: a refusal the provider does not bill (the model
    never ran), so it counts nothing against budgets."""

    def __init__(self, message: str, *, error_type: str | None = None, charged: bool = True) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.charged = charged


class VideoUnavailable(ProviderError):
    """The URL will never give us the video (gone, refused, not a video): trying again cannot help."""
