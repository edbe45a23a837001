"""User-facing errors.

Anything a user can cause (a bad file, an unknown name, a malformed option) raises
:class:`RecbenchError` with a one-line message that names the culprit and what was
expected. The CLI prints that line and exits non-zero instead of showing a traceback.
"""


class RecbenchError(Exception):
    """An error caused by input the user controls; its message is shown as is."""


class DataFormatError(RecbenchError):
    """A dataset file does not match its publisher's documented format."""


class DatasetNotFoundError(RecbenchError):
    """A dataset's files are not on this machine and could not be fetched."""


class ChecksumError(RecbenchError):
    """A downloaded or local file does not match its expected size or checksum."""
