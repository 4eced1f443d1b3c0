"""The domain's refusals, free of HTTP: services raise these, and
config.exceptions.api_exception_handler answers each in the contract's shape.

- NotFound(message)  -> 404 {"message": message}
- Refused(message)   -> 400 {"message": message}
- Invalid(errors)    -> 400 {field: [message, ...]}, DRF's validation shape
"""


class DomainError(Exception):
    """A request the domain refuses; never a bug."""


class NotFound(DomainError):
    """The thing asked for does not exist, or is not the caller's to see."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class Refused(DomainError):
    """A business rule says no; `message` is the contract's exact text."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class Invalid(DomainError):
    """Input that breaks a rule, as {field: [message, ...]} (non_field_errors for several)."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = {
            key: list(value) if isinstance(value, list | tuple) else [value]
            for key, value in errors.items()
        }
