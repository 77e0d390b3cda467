"""The one family of exceptions for problems a user can cause or fix.

The CLI turns any of these into a one-line message and a non-zero exit code;
anything else is a bug and keeps its traceback.
"""


class FascdetectError(Exception):
    """Base class: the message is written for the user, not the developer."""

    exit_code = 1


class InputError(FascdetectError):
    """Bad arguments, unknown labels, unusable montage."""

    exit_code = 2


class RecordingError(FascdetectError):
    """A recording that is missing, not EDF/BDF, truncated, corrupt or unusable."""

    exit_code = 3


class SignalError(FascdetectError):
    """Samples that cannot be analysed (NaN or infinite values)."""

    exit_code = 4


class DeviceError(FascdetectError):
    """A wearable that cannot be found, connected to or understood."""

    exit_code = 5


class HistoryError(FascdetectError):
    """A history database that is corrupt, locked by another program, or from a newer fascdetect."""

    exit_code = 6
