"""The pieces every spec shares: the model base, names, labels, quantities, metadata."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from annotated_types import Interval
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
)
from pydantic.alias_generators import to_camel

from sapwood.specs import quantity

API_VERSION = "sapwood/v1"

# A DNS-1123 label of at most 63 characters, as a JSON Schema (ECMA-262) pattern; Rust's
# regex (pydantic) reads it the same way: '$' matches only at the very end.
NAME_PATTERN = r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$"
# Matched with fullmatch: with re.match, '$' also matches before a trailing newline.
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_KEY_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Caps on what one spec may hold: generous for real use, small enough that a hostile
# document is refused before it costs anything. docs/specs.md lists them.
MAX_LABELS = 64
MAX_ENV = 256
MAX_COMMAND_ARGS = 1024
MAX_VOLUMES = 32
MAX_ARG_BYTES = 128 * 1024  # Linux refuses a longer argument or environment string
MAX_PATH = 4096


class SpecModel(BaseModel):
    """Base of every user-facing model: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
    )


def check_name(value: str) -> str:
    """A DNS-1123 label: lowercase letters, digits and '-', at most 63 characters."""
    if len(value) > 63:
        raise ValueError(f"{value!r} is longer than 63 characters")
    if not _LABEL.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a valid name: use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit (e.g. 'train-antinex')"
        )
    return value


def friendly(check: Callable[[str], object]) -> WrapValidator:
    """Keeps a constraint's own message: when the constraints before it (a pattern, a
    length) refuse a string, ``check`` is run on it so its ValueError, which says what
    is allowed, is the error. ``check`` must refuse at least what the constraints refuse."""

    def validate(value: object, handler: ValidatorFunctionWrapHandler) -> object:
        try:
            return handler(value)
        except ValidationError:
            if isinstance(value, str):
                check(value)
            raise

    return WrapValidator(validate)


def check_label_key(key: str) -> str:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not all(_LABEL.fullmatch(p) for p in prefix.split("."))):
        raise ValueError(f"label key {key!r} has an invalid prefix: use a DNS subdomain")
    if len(name) > 63 or not _LABEL_KEY_NAME.fullmatch(name):
        raise ValueError(
            f"label key {key!r} is invalid: up to 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return key


def check_label_value(value: str) -> str:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise ValueError(
            f"label value {value!r} is invalid: up to 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return value


def _check_labels(labels: dict[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        check_label_key(key)
        check_label_value(value)
    return labels


def _check_env(env: dict[str, str]) -> dict[str, str]:
    for key in env:
        if not _ENV_NAME.fullmatch(key):
            raise ValueError(
                f"environment variable name {key!r} is invalid: "
                "use letters, digits and '_', not starting with a digit"
            )
    return env


def capped(cap: int, what: str) -> BeforeValidator:
    """Refuse a list or mapping of more than ``cap`` items before its items are validated.

    The error names the cap and the count; pydantic puts the field path in front."""

    def check(value: object) -> object:
        if isinstance(value, list | dict) and len(value) > cap:
            raise ValueError(f"at most {cap} {what} are allowed, got {len(value)}")
        return value

    return BeforeValidator(check)


def check_process_string(value: str) -> str:
    """A string that becomes an argument or environment value of a process: no NUL byte
    (the kernel cannot pass one) and at most 128 KiB."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL byte (\\x00)")
    try:
        encoded = value.encode()
    except UnicodeEncodeError as exc:  # a lone surrogate, as JSON's "\\ud800" can carry
        where = f"character {exc.start}"
        raise ValueError(f"is not valid Unicode text: a lone surrogate at {where}") from None
    if len(encoded) > MAX_ARG_BYTES:
        raise ValueError(f"is longer than {MAX_ARG_BYTES} bytes")
    return value


def check_workdir(value: str) -> str:
    """An absolute path without NUL bytes."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL byte (\\x00)")
    if not value.startswith("/"):
        raise ValueError(f"{value!r} is not an absolute path: start it with '/'")
    return value


ProcessString = Annotated[str, AfterValidator(check_process_string)]
Name = Annotated[str, StringConstraints(max_length=63, pattern=NAME_PATTERN), friendly(check_name)]
Labels = Annotated[dict[str, str], capped(MAX_LABELS, "labels"), AfterValidator(_check_labels)]
Env = Annotated[
    dict[str, ProcessString],
    capped(MAX_ENV, "environment variables"),
    AfterValidator(_check_env),
]
Workdir = Annotated[str, Field(max_length=MAX_PATH), AfterValidator(check_workdir)]


def _quantity_schema(pattern: str, *, maximum: int, help: str, example: str) -> WithJsonSchema:
    # A whole number is accepted as well as text; the parser is the check, the pattern
    # what it always accepts (quantity.py).
    text = {"type": "string", "pattern": pattern, "examples": [example]}
    number = {"type": "integer", "minimum": 0, "maximum": maximum}
    return WithJsonSchema({"anyOf": [text, number], "description": help})


def duration_schema(low: timedelta, high: timedelta) -> WithJsonSchema:
    """The JSON Schema of a duration from ``low`` to ``high`` (quantity.duration_pattern)."""
    pattern = quantity.duration_pattern(low, high)
    return WithJsonSchema(
        {
            "type": "string",
            "pattern": pattern,
            "description": quantity.DURATION_HELP,
            "examples": ["5m"],
        }
    )


Cpu = Annotated[
    int,
    BeforeValidator(quantity.parse_cpu),
    PlainSerializer(quantity.format_cpu, return_type=str),
    _quantity_schema(
        quantity.cpu_pattern(),
        maximum=quantity.MAX_CPU_MILLIS // 1000,
        help=quantity.CPU_HELP,
        example="500m",
    ),
]
Memory = Annotated[
    int,
    BeforeValidator(quantity.parse_memory),
    PlainSerializer(quantity.format_memory, return_type=str),
    _quantity_schema(
        quantity.memory_pattern(),
        maximum=quantity.MAX_MEMORY_BYTES,
        help=quantity.MEMORY_HELP,
        example="4Gi",
    ),
]
# parse_gpus checks the range first (its message names it); Interval states it in the schema.
Gpus = Annotated[int, Interval(ge=0, le=quantity.MAX_GPUS), BeforeValidator(quantity.parse_gpus)]
Duration = Annotated[
    timedelta,
    BeforeValidator(quantity.parse_duration),
    PlainSerializer(quantity.format_duration, return_type=str),
    duration_schema(timedelta(0), quantity.MAX_DURATION),
]


def _shell_string(value: object) -> object:
    # One string is a shell command line; stored as the argv that runs it.
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("a command must not be empty")
        return ["/bin/sh", "-c", value]
    return value


Argv = Annotated[
    list[Annotated[ProcessString, Field(min_length=1)]],
    capped(MAX_COMMAND_ARGS, "arguments"),
    Field(min_length=1),
]
Command = Annotated[
    Argv,
    BeforeValidator(_shell_string),
    Field(description="argv list, or one string run by /bin/sh -c"),
]


class Metadata(SpecModel):
    """Who an object is. ``resourceVersion``, when given, makes the write conditional.

    ``uid``, ``generation``, ``createdAt``, ``updatedAt``, ``deletionTimestamp`` and
    ``owner`` are written by the server; they are accepted (so ``get -o yaml`` output can be applied
    again) and ignored.
    """

    name: Name
    team: Name | None = None
    labels: Labels = Field(default_factory=dict)
    resource_version: int | None = Field(default=None, ge=0)
    uid: str | None = None
    generation: int | None = None
    created_at: Any = None
    updated_at: Any = None
    deletion_timestamp: Any = None
    owner: Any = None


class Resources(SpecModel):
    """What one replica asks for, and gets to itself."""

    cpu: Cpu = 500
    memory: Memory = 512 * 1024**2
    gpu: Gpus = 0
    gpu_model: str | None = Field(
        default=None, max_length=63, description="only nodes with this GPU model, e.g. A100"
    )

    def is_empty(self) -> bool:
        return self.cpu == 0 and self.memory == 0 and self.gpu == 0


class Volume(SpecModel):
    """A named, persistent directory (locally) or PersistentVolumeClaim (Kubernetes)."""

    name: Name
    mount_path: str = Field(pattern=r"^/", description="where the workload sees it")
    size: Memory | None = None
