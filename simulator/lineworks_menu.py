"""The simulated LINE WORKS's persistent menu: what its endpoint refuses, and what pressing one of its buttons sends.

From bot-persistentmenu-create (https://developers.worksmobile.com/jp/docs/bot-persistentmenu-create, /en/ and /kr/
alike) and bot-persistentmenu-delete (https://developers.worksmobile.com/kr/docs/bot-persistentmenu-delete):

- POST /v1.0/bots/{botId}/persistentmenu with {"content": {"actions": […]}}: 1 to 4 actions (maxItems 4), of type
  message, uri or copy (no postback action; bot-actionobject's table agrees), postback at most 1,000 characters.
  The success status is not on the pages we read: the simulator answers 201, as for a send. A new menu replaces the
  old one (one menu for the whole bot). DELETE on the same path answers 204 No Content.
- The label row reads "persistent menu: at most 1,000 characters; others: 20". The simulator's `menu_label_limit`
  is 20 by default, the bound the bot holds every button label to, so a test catches a label the bot should not
  send; set it to 1000 to model the page as written.
- "A new line character in text is substituted with a blank space": applied when a button is pressed.
- Pressing a message action sends a message event with content.text (the action's text, else its label) and
  content.postback (the create page: "add the postback parameter to a message, which the server receives as a
  callback"); a uri or copy action sends nothing to the bot.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_MENU_ACTIONS = 4
MAX_MENU_LABEL = 20  # our default; the create page says 1,000 (see above)
MAX_MENU_POSTBACK = 1000
MENU_ACTIONS = frozenset({"message", "uri", "copy"})


def _text_problem(name: str, value: object, limit: int, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        return f"{name} is required"
    return f"{name} exceeds {limit} characters" if len(value) > limit else None


def menu_problem(content: object, label_limit: int = MAX_MENU_LABEL) -> str | None:
    """Why LINE WORKS would answer 400 to this persistent menu's content, or None."""
    if not isinstance(content, Mapping):
        return "content is required"
    actions = content.get("actions")
    if not isinstance(actions, list) or not 1 <= len(actions) <= MAX_MENU_ACTIONS:
        return f"content.actions must hold 1 to {MAX_MENU_ACTIONS} actions"
    for action in actions:
        if not isinstance(action, Mapping) or action.get("type") not in MENU_ACTIONS:
            kind = action.get("type") if isinstance(action, Mapping) else None
            return f"{kind} action is not allowed in persistentmenu"
        problem = _text_problem("label", action.get("label"), label_limit) or _text_problem(
            "postback", action.get("postback"), MAX_MENU_POSTBACK, required=False
        )
        if problem:
            return problem
    return None


def menu_press(actions: Sequence[Mapping[str, Any]] | None, label: str) -> tuple[str, str | None]:
    """What pressing the button labelled `label` says: (content.text, content.postback). LookupError when no button
    has that label, ValueError when its action sends the bot nothing."""
    for action in actions or []:
        if action.get("label") != label:
            continue
        if action.get("type") != "message":
            raise ValueError(f"pressing a {action.get('type')} action sends no callback")
        postback = action.get("postback")
        return str(action.get("text") or label).replace("\n", " "), str(postback) if postback is not None else None
    raise LookupError(f"no persistent-menu button labelled {label!r}")
