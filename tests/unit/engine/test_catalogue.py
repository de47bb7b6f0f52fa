"""The server-side catalogue: YAML groups of candidates, errors naming the entry."""

from __future__ import annotations

from pathlib import Path

import pytest

from routeiq_sidecar.engine.catalogue import Catalogue, candidate_from_mapping, load_catalogue
from routeiq_sidecar.errors import ErrorKind, RouteIQError
from routeiq_sidecar.types import CandidateSpec

SPEC_CATALOGUE = """\
model_groups:
  auto:
    - id: gpt-4o-mini
      model: openai/gpt-4o-mini
      input_cost_per_mtok: 0.15
      output_cost_per_mtok: 0.6
      max_input_tokens: 128000
      capabilities: [tools, json, vision]
    - id: claude-opus
      model: anthropic/claude-opus-4
      input_cost_per_mtok: 15
      output_cost_per_mtok: 75
      capabilities: [tools, reasoning]
      quality_prior: 0.95
      labels: {tier: premium, region: eu}
  local:
    - id: llama
      model: ollama/llama3
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def refused(tmp_path: Path, text: str) -> RouteIQError:
    with pytest.raises(RouteIQError) as err:
        load_catalogue(write(tmp_path, text))
    assert err.value.kind is ErrorKind.INVALID_ARGUMENT
    return err.value


def test_load_spec_catalogue(tmp_path: Path) -> None:
    cat = load_catalogue(write(tmp_path, SPEC_CATALOGUE))
    assert sorted(cat.groups) == ["auto", "local"]
    auto = cat.candidates("auto")
    assert auto is not None and [c.id for c in auto] == ["gpt-4o-mini", "claude-opus"]
    mini, opus = auto
    assert mini == CandidateSpec(
        "gpt-4o-mini", "openai/gpt-4o-mini", 0.15, 0.6, 128000, ("tools", "json", "vision")
    )
    assert opus.input_cost_per_mtok == 15.0 and isinstance(opus.input_cost_per_mtok, float)
    assert opus.quality_prior == 0.95
    assert opus.labels == {"tier": "premium", "region": "eu"}
    assert mini.quality_prior is None and mini.labels == {}
    (llama,) = cat.candidates("local") or ()
    # no price given: "price unknown", never free
    assert not llama.price_known and not llama.is_free
    assert llama.max_input_tokens == 0 and llama.capabilities == ()
    assert cat.candidates("missing") is None


def test_no_path_is_empty() -> None:
    cat = load_catalogue(None)
    assert cat == Catalogue.empty()
    assert cat.groups == {}
    assert cat.candidates("auto") is None


def test_model_defaults_to_id() -> None:
    c = candidate_from_mapping({"id": "gpt-4o"}, "candidates[0]")
    assert c.model == "gpt-4o"


def test_wrong_capability_names_entry(tmp_path: Path) -> None:
    text = SPEC_CATALOGUE.replace("[tools, reasoning]", "[tools, telepathy]")
    err = refused(tmp_path, text)
    assert err.field == "catalogue.model_groups.auto[1].capabilities"
    assert str(err).startswith("catalogue.model_groups.auto[1].capabilities: must be a list of")


def test_capabilities_not_a_list(tmp_path: Path) -> None:
    err = refused(tmp_path, SPEC_CATALOGUE.replace("[tools, json, vision]", "tools"))
    assert err.field == "catalogue.model_groups.auto[0].capabilities"


def test_unknown_field_names_entry(tmp_path: Path) -> None:
    text = SPEC_CATALOGUE.replace(
        "      model: ollama/llama3\n",
        "      model: ollama/llama3\n      price: 3\n      zone: x\n",
    )
    err = refused(tmp_path, text)
    assert err.field == "catalogue.model_groups.local[0]"
    assert "unknown field(s) price, zone" in str(err)


@pytest.mark.parametrize(
    ("entry", "field", "reason"),
    [
        ("- model: x\n", "catalogue.model_groups.g[0].id", "must be a non-empty string"),
        ("- id: '  '\n", "catalogue.model_groups.g[0].id", "must be a non-empty string"),
        (
            "- id: a\n  model: 3\n",
            "catalogue.model_groups.g[0].model",
            "must be a non-empty string",
        ),
        ("- id: a\n  labels: [x]\n", "catalogue.model_groups.g[0].labels", "must be a mapping"),
        ("- id: a\n  input_cost_per_mtok: cheap\n", "catalogue.model_groups.g[0]", "bad number"),
        ("- id: a\n  max_input_tokens: lots\n", "catalogue.model_groups.g[0]", "bad number"),
        ("- just-a-string\n", "catalogue.model_groups.g[0]", "must be a mapping"),
    ],
)
def test_bad_entry_names_field(tmp_path: Path, entry: str, field: str, reason: str) -> None:
    body = "".join("    " + line + "\n" for line in entry.splitlines())
    err = refused(tmp_path, "model_groups:\n  g:\n" + body)
    assert err.field == field
    assert str(err).startswith(f"{field}: ")
    assert reason in str(err)


def test_second_entry_error_names_index(tmp_path: Path) -> None:
    err = refused(tmp_path, "model_groups:\n  g:\n    - id: a\n    - id: b\n      bogus: 1\n")
    assert err.field == "catalogue.model_groups.g[1]"


@pytest.mark.parametrize("group", ["[]", "", "{id: a}"])
def test_empty_or_non_list_group(tmp_path: Path, group: str) -> None:
    err = refused(tmp_path, f"model_groups:\n  auto: {group}\n")
    assert err.field == "catalogue.model_groups.auto"
    assert "must be a non-empty list" in str(err)


@pytest.mark.parametrize("text", ["", "- a\n", "groups: {}\n", "model_groups: [a]\n"])
def test_top_level_shape(tmp_path: Path, text: str) -> None:
    err = refused(tmp_path, text)
    assert err.field == "catalogue"
    assert "expected a top-level 'model_groups' mapping" in str(err)


def test_unreadable_or_invalid_yaml(tmp_path: Path) -> None:
    err = refused(tmp_path, "model_groups: [\n")
    assert err.field == "catalogue" and "cannot read" in str(err)
    with pytest.raises(RouteIQError) as missing:
        load_catalogue(tmp_path / "nope.yaml")
    assert missing.value.field == "catalogue"
    assert "nope.yaml" in str(missing.value)
