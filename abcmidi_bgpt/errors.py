"""Errors the converters raise for bad input. Messages are one line and say what was wrong."""


class ConversionError(ValueError):
    """An input that cannot be converted; the message is one line, fit for a batch summary."""


class InputTooLarge(ConversionError):
    """An input over one of the documented size limits."""
