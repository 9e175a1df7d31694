from __future__ import annotations

from pathlib import Path

import pytest

from sapwood.serving.options import default_threads, parse_options


def test_a_model_file_with_defaults(mlp_path: Path) -> None:
    options = parse_options(["--model-path", str(mlp_path), "--name", "antinex"], {"PORT": "9001"})
    assert options.model_path == mlp_path
    assert (options.name, options.version, options.host, options.port) == (
        "antinex",
        "1",
        "127.0.0.1",
        9001,
    )
    assert (options.max_batch_size, options.max_wait_ms) == (64, 2.0)
    assert options.threads == default_threads()


def test_registry_models_from_flags_or_environment() -> None:
    options = parse_options(["--model", "antinex@production", "--threads", "3"], {})
    assert options.models == ["antinex@production"]
    assert options.threads == 3
    options = parse_options([], {"SAPWOOD_MODEL": "antinex@4, other@staging"})
    assert options.models == ["antinex@4", "other@staging"]


def test_flags_win_over_the_environment(mlp_path: Path) -> None:
    env = {"SAPWOOD_MODEL": "antinex@4", "SAPWOOD_MODEL_PATH": "/elsewhere.onnx"}
    options = parse_options(["--model-path", str(mlp_path)], env)
    assert (options.models, options.model_path) == ([], mlp_path)
    options = parse_options(["--model", "other@1"], env)
    assert (options.models, options.model_path) == (["other@1"], None)
    options = parse_options([], {"SAPWOOD_MODEL_PATH": str(mlp_path)})
    assert (options.models, options.model_path, options.name) == ([], mlp_path, "antinex")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--model NAME@REF or --model-path"),
        (["--model", "Antinex"], "NAME@VERSION or NAME@ALIAS"),
        (["--model", "a@1", "--model", "a@2"], "served once"),
        (["--model", "a@1", "--max-batch-size", "0"], "--max-batch-size"),
        (["--model", "a@1", "--max-wait-ms", "-1"], "--max-wait-ms"),
        (["--model-path", "/nonexistent.onnx"], "is not a file"),
    ],
)
def test_bad_options_exit_naming_the_option(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        parse_options(argv, {})
    assert info.value.code == 2
    assert message in capsys.readouterr().err
