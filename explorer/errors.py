"""The one exception type users see: what went wrong, what was got, what to do next."""

__all__ = ["ExplorerError"]


class ExplorerError(ValueError):
    """A problem with the user's input or request, phrased as a sentence a user understands.

    Every public entry point raises this (or a subclass) for bad files, bad shapes, non-finite
    weights, unsupported layers and requests that exceed a stated limit.  The CLI prints its message
    on one line and exits with status 2; the app shows it with ``st.error``.
    """
