"""The error class for mistakes a user can make and fix (bad path, bad config value, malformed record).

The CLI prints these as one sentence and exits 2; every other exception is a bug and keeps its traceback.
"""


class LitftError(Exception):
    """A user error: the message is one sentence saying what is wrong and how to fix it."""
