"""Exceptions users see. Every user error is a ValueError/TypeError subclass with a message
that says what was expected and what arrived; the CLI and server turn them into one line.
:func:`quoted` and :func:`shorten` keep the user's text in a message short."""


class OpenBananaError(ValueError):
    """Base class for errors caused by the user's input (bad file, bad instruction, bad config)."""


class ImageLoadError(OpenBananaError):
    """An input file is missing, not an image, truncated, too large or of an unsupported mode."""


class InstructionError(OpenBananaError):
    """An instruction could not be understood (unknown task, no parsable palette, ...)."""


class DataLayoutError(OpenBananaError):
    """A data set on disk does not have the layout an adapter expects."""


#: how many characters of a user's text an error message repeats
QUOTE_LIMIT = 80


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """The first ``limit`` characters of ``text``, with ``…`` when it was longer."""
    text = str(text)
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def quoted(text: str, limit: int = QUOTE_LIMIT) -> str:
    """``text`` quoted for a one-line message: ``repr`` of :func:`shorten` (an 830-character
    instruction is not echoed whole)."""
    return repr(shorten(text, limit))
