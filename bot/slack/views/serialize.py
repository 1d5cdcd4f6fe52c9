"""How `slack_sdk.models` objects become JSON quickly.

slack_sdk serialises a Block Kit object with `JsonObject.to_dict`, which first runs the object's
validators; it finds them by calling `dir()` on every object and inspecting each of its attributes. That
search was the larger part of rendering App Home for an approver (about 17 of 25 ms, bench.data_scale) and
of every approval message the outbox sends. `look_up_validators_once()` makes slack_sdk find them once per
class: the same validators still run, in the same order, and raise the same errors.
"""

from __future__ import annotations

from slack_sdk.models.basic_objects import JsonObject

_VALIDATORS: dict[type, tuple[str, ...]] = {}
#: slack_sdk's own method, kept for `tests/slack/test_serialize.py` to compare against.
SLACK_SDK_VALIDATE_JSON = JsonObject.validate_json


def validator_names(cls: type) -> tuple[str, ...]:
    """The names of `cls`'s validator methods, in the order slack_sdk runs them (sorted, as `dir` is)."""
    names = _VALIDATORS.get(cls)
    if names is None:
        names = tuple(
            name
            for name in dir(cls)
            if not name.startswith("__")
            and callable(member := getattr(cls, name, None))
            and hasattr(member, "validator")
        )
        _VALIDATORS[cls] = names
    return names


def _validate_json(self: JsonObject) -> None:
    for name in validator_names(type(self)):
        getattr(self, name)()


def look_up_validators_once() -> None:
    """Install the per-class lookup on slack_sdk's `JsonObject` (idempotent, process-wide)."""
    setattr(JsonObject, "validate_json", _validate_json)  # noqa: B010 - a method of a library class
