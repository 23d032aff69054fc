"""Errors the converters raise for bad input. Messages are one line and say what was wrong."""


class ConversionError(ValueError):
    """An input that cannot be converted; the message is one line, fit for a batch summary."""


class InputTooLarge(ConversionError):
    """An input over one of the documented size limits."""


def first_line(err: BaseException) -> str:
    """The first line of an error's message, or the error's type when the message is empty:
    a one-line reason for a summary."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
