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


def check_config_keys(cls: type, d: object, where: str, extra: tuple[str, ...] = ()) -> None:
    """Refuse a config dict with keys that are not fields of dataclass ``cls`` (nor in ``extra``).

    Raises:
        TypeError: ``d`` is not a dict. ValueError: it has unknown keys (the message lists them and
            the known ones).
    """
    from dataclasses import fields

    if not isinstance(d, dict):
        raise TypeError(f"{where} must be a JSON object, got {type(d).__name__}")
    known = {f.name for f in fields(cls)} | set(extra)
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"unknown key(s) {sorted(unknown)} in {where}; expected one of {sorted(known)}")
