"""PlanQA's one family of user-facing errors, each with a message that says what to do."""


class PlanQAError(Exception):
    """An error a user can cause or fix; the CLI prints it without a traceback."""

    exit_code = 2


class CorpusError(PlanQAError):
    """A report file or the corpus directory cannot be used."""


class IndexMissingError(PlanQAError):
    """No usable index: missing, stale or corrupted."""


class BadQueryError(PlanQAError):
    """The user's query or its options are not acceptable."""


class EmbedderError(PlanQAError):
    """The embedding model cannot be loaded or used."""
