"""Exceptions users see. Every user error is a ValueError/TypeError subclass with a message
that says what was expected and what arrived; the CLI and server turn them into one line."""


class OpenBananaError(ValueError):
    """Base class for errors caused by the user's input (bad file, bad instruction, bad config)."""


class ImageLoadError(OpenBananaError):
    """An input file is missing, not an image, truncated, too large or of an unsupported mode."""


class InstructionError(OpenBananaError):
    """An instruction could not be understood (unknown task, no parsable palette, ...)."""


class DataLayoutError(OpenBananaError):
    """A data set on disk does not have the layout an adapter expects."""
