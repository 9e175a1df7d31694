"""The env-create form: what a submission becomes, and each bad value named on its field."""

from __future__ import annotations

from typing import Any

import pytest

from sapwood.server.slack import forms
from sapwood.specs.objects import parse_object


def _values(**fields: str | None) -> dict[str, dict[str, dict[str, Any]]]:
    """Slack's view.state.values for a submission: text inputs and selects as Slack sends them."""
    chosen: dict[str, str | None] = {
        forms.NAME: "my-notebook",
        forms.TEAM: "research",
        forms.CPU: "2",
        forms.MEMORY: "4Gi",
        forms.GPU: "0",
        forms.GPU_MODEL: None,
        forms.IMAGE: None,
        forms.TOOL: forms.JUPYTER,
        forms.COMMAND: None,
        forms.IDLE_TIMEOUT: "2h",
        forms.TTL: forms.NO_TTL,
    }
    chosen.update(fields)
    selects = {forms.TEAM, forms.GPU, forms.TOOL, forms.IDLE_TIMEOUT, forms.TTL}
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block, value in chosen.items():
        if block in selects:
            option = None if value is None else {"value": value, "text": {"text": value}}
            entry = {"type": "static_select", "selected_option": option}
        else:
            entry = {"type": "plain_text_input", "value": value}
        values[block] = {block: entry}
    return values


def test_a_submission_becomes_the_workspace_it_describes() -> None:
    document = forms.workspace_document(
        _values(cpu="500m", memory="8Gi", gpu="2", gpu_model="A100", image="torch:2", ttl="1d")
    )
    assert document["metadata"] == {"name": "my-notebook", "team": "research"}
    spec = document["spec"]
    assert spec["resources"] == {"cpu": "500m", "memory": "8Gi", "gpu": "2", "gpuModel": "A100"}
    assert spec["image"] == "torch:2"
    assert spec["tool"] == "jupyter"
    assert "command" not in spec
    assert spec["idleTimeout"] == "2h"
    assert spec["ttl"] == "1d"


def test_optional_fields_left_empty_are_left_out() -> None:
    spec = forms.workspace_document(_values(gpu_model="  ", image=""))["spec"]
    assert "gpuModel" not in spec["resources"]
    assert "image" not in spec
    assert "ttl" not in spec


def test_never_pausing_when_idle_is_no_idle_timeout() -> None:
    document = forms.workspace_document(_values(idle_timeout=forms.NEVER))
    assert document["spec"]["idleTimeout"] is None
    assert parse_object(document).spec.idle_timeout is None  # type: ignore[union-attr]


def test_a_command_workspace_runs_the_command_given() -> None:
    document = forms.workspace_document(_values(tool="command", command="python serve.py"))
    assert document["spec"]["tool"] == "command"
    spec = parse_object(document).spec
    assert spec.command == ["/bin/sh", "-c", "python serve.py"]


@pytest.mark.parametrize(
    ("fields", "block", "words"),
    [
        ({"name": "My Notebook"}, forms.NAME, "not a valid name"),
        ({"cpu": "lots"}, forms.CPU, "'lots' is not a CPU count"),
        ({"memory": "4Q"}, forms.MEMORY, "unknown memory unit 'Q'"),
        ({"gpu_model": "x" * 70}, forms.GPU_MODEL, "at most 63"),
        ({"tool": "command"}, forms.COMMAND, "type the command"),
        ({"command": "python x.py"}, forms.COMMAND, "Jupyter starts JupyterLab itself"),
        ({"team": None}, forms.TEAM, "choose a team"),
        ({"idle_timeout": "soon"}, forms.IDLE_TIMEOUT, "'soon' is not a duration"),
    ],
)
def test_each_bad_value_is_named_on_its_field(
    fields: dict[str, Any], block: str, words: str
) -> None:
    with pytest.raises(forms.FormError) as caught:
        forms.workspace_document(_values(**fields))
    assert block in caught.value.errors, caught.value.errors
    assert words in caught.value.errors[block]


def test_several_bad_values_are_all_named() -> None:
    with pytest.raises(forms.FormError) as caught:
        forms.workspace_document(_values(cpu="lots", memory="much"))
    assert set(caught.value.errors) == {forms.CPU, forms.MEMORY}


@pytest.mark.parametrize(
    ("path", "block"),
    [
        ("objects[0].spec.resources.cpu", forms.CPU),
        ("objects[0].spec.resources.gpu", forms.GPU),
        ("objects[0].spec.resources.gpuModel", forms.GPU_MODEL),
        ("objects[0].spec.ttl", forms.TTL),
        ("objects[0].metadata.team", forms.TEAM),
        ("objects[0].spec.priority", forms.NAME),  # not on the form: shown on the first field
        ("objects[0]", forms.NAME),
    ],
)
def test_service_error_paths_land_on_the_field_they_name(path: str, block: str) -> None:
    assert forms.field_errors([(path, "bad")]) == {block: "bad"}


def test_the_form_offers_the_teams_given_and_remembers_the_channel() -> None:
    view = forms.form_view(["ml", "research"], channel="C_GENERAL")
    assert view["callback_id"] == forms.ENV_CREATE
    team = next(b for b in view["blocks"] if b["block_id"] == forms.TEAM)
    assert [o["value"] for o in team["element"]["options"]] == ["ml", "research"]
    assert team["element"]["initial_option"]["value"] == "ml"
    assert forms.channel_of(view["private_metadata"]) == "C_GENERAL"
    blocks = {b["block_id"] for b in view["blocks"]}
    fields = (forms.NAME, forms.TEAM, forms.CPU, forms.MEMORY, forms.GPU, forms.GPU_MODEL)
    fields += (forms.IMAGE, forms.TOOL, forms.COMMAND, forms.IDLE_TIMEOUT, forms.TTL)
    assert blocks == set(fields)


def test_the_forms_defaults_make_a_valid_workspace() -> None:
    """What a user gets by typing only a name: the initial values, submitted as they are."""
    view = forms.form_view(["research"], channel=None)
    values: dict[str, dict[str, dict[str, Any]]] = {}
    for block in view["blocks"]:
        element = block["element"]
        if "initial_option" in element:
            entry = {"selected_option": element["initial_option"]}
        else:
            entry = {"value": element.get("initial_value")}
        values[block["block_id"]] = {element["action_id"]: entry}
    values[forms.NAME][forms.NAME]["value"] = "scratch"
    spec = parse_object(forms.workspace_document(values)).spec
    assert spec.resources.cpu == 2000
    assert spec.resources.memory == 4 * 1024**3
    assert forms.channel_of(view["private_metadata"]) is None


def test_private_metadata_that_is_not_ours_means_a_dm() -> None:
    assert forms.channel_of("") is None
    assert forms.channel_of("not json") is None
    assert forms.channel_of('["C1"]') is None
