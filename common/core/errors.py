"""The errors a run can end with, each with the exit code the CLI gives it."""


class NSTError(Exception):
    """Base class: a failure the user can act on, reported as one line (never a traceback)."""

    exit_code = 1


class UserError(NSTError, ValueError):
    """Bad input (a file, a flag, a path): exit code 2."""

    exit_code = 2


class BackendUnavailable(NSTError, ImportError):
    """The chosen backend's framework is not installed: exit code 2."""

    exit_code = 2


class WeightsUnavailable(UserError):
    """Pretrained weights are neither cached nor downloadable: exit code 2."""


class Diverged(NSTError):
    """The loss turned NaN or infinite: exit code 3 (the last finite image is kept)."""

    exit_code = 3


class Interrupted(NSTError):
    """SIGINT or SIGTERM stopped the run after a complete step: exit code 130."""

    exit_code = 130
