"""The proxy plugin's settings from ROUTEIQ_LITELLM_* variables: typed, checked, named."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from routeiq_litellm import RouteIQStrategy
from routeiq_litellm.settings import DEFAULT_TIMEOUT_MS, PluginSettings


def test_settings_from_env() -> None:
    s = PluginSettings.from_env({
        "ROUTEIQ_LITELLM_URL": "127.0.0.1:9",
        "ROUTEIQ_LITELLM_TRANSPORT": "grpc",
        "ROUTEIQ_LITELLM_TIMEOUT_MS": "25",
        "ROUTEIQ_LITELLM_FEEDBACK": "off",
        "ROUTEIQ_LITELLM_BREAKER_FAILURES": "3",
        "ROUTEIQ_LITELLM_TOP_K": "1",
        "ROUTEIQ_LITELLM_MODEL_GROUPS": "auto, chat ,",
    })
    assert (s.url, s.transport, s.timeout_ms, s.feedback, s.breaker_failures, s.top_k) == (
        "127.0.0.1:9", "grpc", 25.0, False, 3, 1)
    assert s.managed_groups == {"auto", "chat"}
    assert PluginSettings.from_env({}) == PluginSettings()
    assert PluginSettings().managed_groups == frozenset()


@pytest.mark.parametrize(("env", "message"), [
    ({"ROUTEIQ_LITELLM_TIMEOUT_MS": "fast"}, "ROUTEIQ_LITELLM_TIMEOUT_MS='fast'"),
    ({"ROUTEIQ_LITELLM_FEEDBACK": "maybe"}, "ROUTEIQ_LITELLM_FEEDBACK"),
    ({"ROUTEIQ_LITELLM_TIMEOUT_MS": "0", "ROUTEIQ_LITELLM_TRANSPORT": "x"},
     r"transport='x' \(http or grpc\); timeout_ms=0.0"),
    ({"ROUTEIQ_LITELLM_TOP_K": "0"}, r"top_k=0 \(must be >= 1\)"),
])
def test_bad_settings_name_the_variable_or_field(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PluginSettings.from_env(env)


def test_the_default_timeout_is_one_for_plugin_and_sdk_and_documented() -> None:
    """Sized from the measured p99 decision round trip (docs/benchmarks.md); the README says
    the figure, so a change of default must change the README too."""
    assert PluginSettings().timeout_ms == DEFAULT_TIMEOUT_MS
    sdk = inspect.signature(RouteIQStrategy).parameters["timeout_ms"].default
    assert sdk == DEFAULT_TIMEOUT_MS
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    assert f"| `timeout_ms` | `{DEFAULT_TIMEOUT_MS:g}` |" in readme
