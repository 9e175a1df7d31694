"""The limits Slack enforces on messages and views, so a test fails where Slack would.

Each check returns the problems it found (Slack's ``response_metadata.messages`` wording in
spirit, not letter); an empty list means Slack would accept it. Only the limits an app is
likely to hit are checked: block counts, text lengths, button fields, unique ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_ACTIONS_ELEMENTS = 25
MAX_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_MESSAGE_TEXT = 40000


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("text", ""))
    return "" if value is None else str(value)


def check_blocks(blocks: Any, *, limit: int) -> list[str]:
    if not isinstance(blocks, list):
        return ["blocks must be a list"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"{len(blocks)} blocks; at most {limit}")
    block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"blocks[{index}]"
        if not isinstance(block, Mapping) or "type" not in block:
            problems.append(f"{where} has no type")
            continue
        if "block_id" in block:
            if block["block_id"] in block_ids:
                problems.append(f"{where} repeats block_id {block['block_id']!r}")
            block_ids.add(block["block_id"])
        problems.extend(_check_block(where, block))
    return problems


def _check_block(where: str, block: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    kind = block["type"]
    if kind == "section" and len(_text(block.get("text"))) > MAX_SECTION_TEXT:
        problems.append(f"{where}: section text over {MAX_SECTION_TEXT} characters")
    if kind == "section" and "text" not in block and "fields" not in block:
        problems.append(f"{where}: a section needs text or fields")
    if kind == "header" and len(_text(block.get("text"))) > MAX_HEADER_TEXT:
        problems.append(f"{where}: header text over {MAX_HEADER_TEXT} characters")
    found: list[Mapping[str, Any]] = [
        element for element in block.get("elements", ()) if isinstance(element, Mapping)
    ]
    if kind == "actions" and len(found) > MAX_ACTIONS_ELEMENTS:
        problems.append(f"{where}: more than {MAX_ACTIONS_ELEMENTS} elements")
    for key in ("accessory", "element"):
        if isinstance(block.get(key), Mapping):
            found.append(block[key])
    action_ids: set[str] = set()
    for element in found:
        action_id = element.get("action_id")
        if action_id is not None:
            if action_id in action_ids:
                problems.append(f"{where} repeats action_id {action_id!r}")
            action_ids.add(action_id)
            if len(str(action_id)) > MAX_ACTION_ID:
                problems.append(f"{where}: action_id over {MAX_ACTION_ID} characters")
        if element.get("type") == "button":
            problems.extend(_check_button(where, element))
    return problems


def _check_button(where: str, button: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    text = button.get("text")
    if not isinstance(text, Mapping) or text.get("type") != "plain_text":
        problems.append(f"{where}: a button's text must be plain_text")
    elif len(_text(text)) > MAX_BUTTON_TEXT:
        problems.append(f"{where}: button text over {MAX_BUTTON_TEXT} characters")
    if len(str(button.get("value", ""))) > MAX_BUTTON_VALUE:
        problems.append(f"{where}: button value over {MAX_BUTTON_VALUE} characters")
    if button.get("style") not in (None, "primary", "danger"):
        problems.append(f"{where}: button style must be primary or danger")
    return problems


def check_message(text: Any, blocks: Any) -> list[str]:
    if not text and not blocks:
        return ["a message needs text or blocks"]
    problems = []
    if len(_text(text)) > MAX_MESSAGE_TEXT:
        problems.append(f"text over {MAX_MESSAGE_TEXT} characters")
    if blocks:
        problems.extend(check_blocks(blocks, limit=MAX_MESSAGE_BLOCKS))
    return problems


def check_view(view: Any) -> list[str]:
    if not isinstance(view, Mapping):
        return ["view must be an object"]
    if view.get("type") not in ("modal", "home"):
        return ["view type must be modal or home"]
    problems = check_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS)
    if view["type"] == "modal":
        if not _text(view.get("title")):
            problems.append("a modal needs a title")
        for key in ("title", "submit", "close"):
            if len(_text(view.get(key))) > MAX_TITLE:
                problems.append(f"{key} over {MAX_TITLE} characters")
        has_input = any(
            isinstance(block, Mapping) and block.get("type") == "input"
            for block in view.get("blocks", [])
        )
        if has_input and not view.get("submit"):
            problems.append("a modal with inputs needs a submit button")
    if len(str(view.get("private_metadata", ""))) > MAX_PRIVATE_METADATA:
        problems.append(f"private_metadata over {MAX_PRIVATE_METADATA} characters")
    return problems


def first_problems(problems: Sequence[str]) -> list[str]:
    return [f"[ERROR] {problem}" for problem in problems[:10]]
