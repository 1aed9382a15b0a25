"""The server's features: each owns one job's state and talks to the editor through a `client.Client`."""

from .code_actions import CodeActionsFeature
from .failure_diagnostics import FailureDiagnostics
from .feature import Feature
from .runs import RunsFeature
from .settings import SettingsFeature
from .status import StatusFeature
from .tests_on_save import TestsOnSaveFeature

__all__ = ["CodeActionsFeature", "FailureDiagnostics", "Feature", "RunsFeature", "SettingsFeature",
           "StatusFeature", "TestsOnSaveFeature"]
