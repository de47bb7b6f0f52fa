"""Settings: defaults, ROUTEIQ_* environment, YAML file, flags; errors name the key and value."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from routeiq_sidecar import cli
from routeiq_sidecar.config import ConfigError, Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]
TABLE_START = "<!-- settings-table:start -->"
TABLE_END = "<!-- settings-table:end -->"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ROUTEIQ_* variable of the outer environment leaks into these tests."""
    for key in list(os.environ):
        if key.startswith("ROUTEIQ_"):
            monkeypatch.delenv(key)


def write_yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routeiq.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# --- defaults
def test_defaults() -> None:
    s = load_settings()
    assert (s.http_host, s.http_port) == ("127.0.0.1", 8080)
    assert (s.grpc_host, s.grpc_port) == ("127.0.0.1", 50051)
    assert s.workers == 1
    assert s.log_level == "info"
    assert s.bundle is None and s.catalogue is None and s.redis_url is None
    assert s.default_profile == "auto"
    assert s.encoder_precision == "int8"
    assert s.batch_wait_us == 0
    assert s.embed_cache_size > 0
    assert isinstance(s.home, Path)


def test_settings_are_frozen() -> None:
    s = load_settings()
    with pytest.raises(Exception, match="frozen"):
        s.http_port = 1  # type: ignore[misc]


# --- environment
def test_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ROUTEIQ_HTTP_PORT", "9090")
    monkeypatch.setenv("ROUTEIQ_GRPC_HOST", "localhost")
    monkeypatch.setenv("ROUTEIQ_LOG_LEVEL", "debug")
    monkeypatch.setenv("ROUTEIQ_BUNDLE", str(tmp_path))
    monkeypatch.setenv("ROUTEIQ_MAX_BATCH_SIZE", "8")
    s = load_settings()
    assert s.http_port == 9090
    assert s.grpc_host == "localhost"
    assert s.log_level == "debug"
    assert s.bundle == tmp_path
    assert s.max_batch_size == 8


def test_host_is_stripped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTEIQ_HTTP_HOST", "  ::1 ")
    assert load_settings().http_host == "::1"


@pytest.mark.parametrize(
    ("env", "value", "reason"),
    [
        ("ROUTEIQ_HTTP_PORT", "abc", "integer"),
        ("ROUTEIQ_HTTP_PORT", "70000", "65535"),
        ("ROUTEIQ_WORKERS", "0", "greater than or equal to 1"),
        ("ROUTEIQ_LOG_LEVEL", "loud", "'debug'"),
        ("ROUTEIQ_ENCODER_PRECISION", "fp16", "'fp32'"),
        ("ROUTEIQ_DEFAULT_PROFILE", "cheap", "'eco'"),
        ("ROUTEIQ_HTTP_HOST", "   ", "must not be empty"),
        ("ROUTEIQ_DRAIN_GRACE_S", "-1", "greater than or equal to 0"),
    ],
)
def test_invalid_env_names_variable_and_value(
    monkeypatch: pytest.MonkeyPatch, env: str, value: str, reason: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as err:
        load_settings()
    msg = str(err.value)
    assert f"invalid setting {env}={value!r}" in msg
    assert reason in msg


# --- flags (keyword overrides, as the CLI passes them)
def test_flag_overrides_and_none_ignored() -> None:
    s = load_settings(http_port=1234, grpc_port=None, log_level="warning")
    assert s.http_port == 1234
    assert s.grpc_port == 50051  # None = flag not given
    assert s.log_level == "warning"


def test_invalid_flag_names_flag_and_value() -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(http_port=70000)
    assert "invalid setting --http-port=70000" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_settings(encoder_precision="fp64")
    assert "invalid setting --encoder-precision='fp64'" in str(err.value)


def test_same_host_and_port_refused() -> None:
    with pytest.raises(ConfigError, match="http_port and grpc_port must differ"):
        load_settings(http_port=5000, grpc_port=5000)
    # distinct hosts may share a port number; port 0 (free port) on both is fine
    assert load_settings(http_port=5000, grpc_port=5000, grpc_host="::1").grpc_port == 5000
    assert load_settings(http_port=0, grpc_port=0).http_port == 0


def test_cli_flag_error_exits_2_naming_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["config", "--http-port", "70000"]) == 2
    err = capsys.readouterr().err
    assert "--http-port=70000" in err


def test_cli_config_prints_effective_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROUTEIQ_REDIS_URL", "redis://user:secret@cache:6379/0")
    assert cli.main(["config", "--grpc-port", "6000"]) == 0
    out = capsys.readouterr().out
    assert '"grpc_port": "6000"' in out
    assert "secret" not in out  # the summary redacts credentials
    assert "redis://***@cache:6379/0" in out


# --- YAML file
def test_yaml_file(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "http_port: 9000\nworkers: 2\nlog_level: error\n")
    s = load_settings(path)
    assert (s.http_port, s.workers, s.log_level) == (9000, 2, "error")
    assert s.grpc_port == 50051


def test_empty_yaml_file_is_defaults(tmp_path: Path) -> None:
    assert load_settings(write_yaml(tmp_path, "")).http_port == 8080


def test_yaml_does_not_leak_into_later_loads(tmp_path: Path) -> None:
    load_settings(write_yaml(tmp_path, "http_port: 9000\n"))
    assert load_settings().http_port == 8080


def test_unknown_yaml_key_refused(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "http_port: 9000\nhttp_prot: 9001\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "invalid setting http_prot=9001: unknown setting" in str(err.value)


def test_invalid_yaml_value_names_key_and_value(tmp_path: Path) -> None:
    path = write_yaml(tmp_path, "grpc_port: notaport\n")
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert "invalid setting grpc_port='notaport'" in str(err.value)
    assert "integer" in str(err.value)


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as err:
        load_settings(missing)
    assert str(err.value) == f"invalid setting --config={str(missing)!r}: file not found"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("http_port: [\n", "not valid YAML"),
        ("- http_port\n", "expected a mapping"),
        ("just text\n", "expected a mapping"),
    ],
)
def test_malformed_yaml_file_refused_by_name(tmp_path: Path, text: str, reason: str) -> None:
    path = write_yaml(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    assert f"--config={str(path)!r}" in str(err.value)
    assert reason in str(err.value)


# --- precedence
def test_precedence_flags_over_env_over_yaml_over_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write_yaml(tmp_path, "http_port: 9000\ngrpc_port: 9001\nworkers: 3\nmax_batch_size: 7\n")
    monkeypatch.setenv("ROUTEIQ_HTTP_PORT", "9100")
    monkeypatch.setenv("ROUTEIQ_GRPC_PORT", "9101")
    monkeypatch.setenv("ROUTEIQ_MAX_BATCH_SIZE", "9")
    s = load_settings(path, http_port=9200)
    assert s.http_port == 9200  # flag
    assert s.grpc_port == 9101  # env over YAML
    assert s.max_batch_size == 9  # env over YAML
    assert s.workers == 3  # YAML over default
    assert s.log_level == "info"  # default


def test_valid_flag_hides_invalid_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTEIQ_HTTP_PORT", "abc")
    assert load_settings(http_port=1000).http_port == 1000


def test_env_error_preferred_over_yaml_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = write_yaml(tmp_path, "workers: 2\n")
    monkeypatch.setenv("ROUTEIQ_WORKERS", "999")
    with pytest.raises(ConfigError, match=r"invalid setting ROUTEIQ_WORKERS='999'"):
        load_settings(path)


# --- README table
def test_settings_table_lists_every_field() -> None:
    table = cli.settings_table()
    for name in Settings.model_fields:
        assert f"| `{name}` | `ROUTEIQ_{name.upper()}` |" in table
    assert "PydanticUndefined" not in table  # default_factory fields show their real default
    assert "| `http_port` | `ROUTEIQ_HTTP_PORT` | `8080` |" in table


def test_readme_settings_table_in_sync() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert TABLE_START in readme and TABLE_END in readme, "README lacks the settings-table markers"
    current = readme.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0].lstrip("\n")
    assert current == cli.settings_table(), (
        "README.md settings table is out of date: run `routeiq-sidecar config --markdown` "
        f"and paste its output between {TABLE_START} and {TABLE_END}"
    )
