"""The one typed settings object (settings.py), how it is read (load.py), and its parts."""

from routeiq_sidecar.config.experiments import Experiment, ExperimentArm
from routeiq_sidecar.config.load import ConfigError, load_settings
from routeiq_sidecar.config.settings import ENV_PREFIX, LOOPBACK, Settings
from routeiq_sidecar.config.urls import REDIS_SCHEMES, redact_url, redis_url_problem

__all__ = [
    "ENV_PREFIX",
    "LOOPBACK",
    "REDIS_SCHEMES",
    "ConfigError",
    "Experiment",
    "ExperimentArm",
    "Settings",
    "load_settings",
    "redact_url",
    "redis_url_problem",
]
