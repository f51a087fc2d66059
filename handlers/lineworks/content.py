"""Message content for the LINE WORKS Bot API 2.0: small builders that check LINE WORKS's limits before anything is
sent (a ValueError, never a 400 from LINE WORKS), and `validate_content` for a content dict made by hand.

Each rule and the page it comes from (developers.worksmobile.com, /jp/docs/… and /en/docs/…):

- bot-send-text: {"type": "text", "text": …}, text at most 2,000 characters.
- bot-quickreply: "quickReply": {"items": [{"action": …, "imageUrl"?: …}]}, at most 13 items, an action required
  per item (no "type" key on an item, unlike LINE's Messaging API). A quick reply may go on any message type.
- bot-actionobject: where each action may be used. Postback actions: carousel, image carousel, quick reply, rich
  menu, and NOT the button template; message actions: button template, list template, carousels, quick reply,
  persistent menu, rich menu. Postback action: label at most 20 characters (12 in an image carousel), data
  required and at most 300 characters, displayText at most 300 characters and required in a quick reply.
- bot-send-button: {"type": "button_template", "contentText": …, "actions": […]}, at most 10 buttons; its
  example's message action is {"type": "message", "label": "FAQ", "postback": "ButtonTemplate_FAQ"}.
  The 1,000-character limit is documented for i18nContentTexts[].contentText; we apply it to contentText too.
- bot-callback-message: pressing a message action sends a message event whose content.text is what the user
  "said" and content.postback the action's postback.
- bot-persistentmenu-create (https://developers.worksmobile.com/jp/docs/bot-persistentmenu-create, also /en/ and
  /kr/): {"content": {"actions": […]}}, at most 4 actions, type message, uri or copy (no postback action: bot-
  actionobject agrees). Its label row reads "persistent menu: at most 1,000 characters; others: 20"; we hold menu
  labels to a button's 20 (`menu_content`), as every other label here, so one renderer fits them all.
- bot-send-file (https://developers.worksmobile.com/en/docs/bot-send-file, /jp/ alike): {"type": "file"} with
  either fileId (from bot-attachment-create) or originalContentUrl (HTTPS, at most 1,000 characters), not both.
  Files named bat, cmd, com, cpl, exe, scr, js, vbs, wsf, hta are refused by default (an admin may change the
  list): `validate_file_name` refuses those before anything is sent.
- bot-send-image (https://developers.worksmobile.com/en/docs/bot-send-image, /jp/ alike): {"type": "image"} with
  either fileId, or previewImageUrl (PNG) and originalContentUrl (HTTPS, at most 1,000 characters each), not both.
- bot-attachment-create (https://developers.worksmobile.com/en/docs/bot-attachment-create): {"fileName": …}; no
  length is given for a bot's file name. The drive's upload pages bound fileName at 200 characters: we apply it.

Silent or ambiguous in the docs (our choices, marked where they are made):
- The message action's own fields (text, postback) had no length found in the pages we could read: we bound
  both at 300 characters, as the postback action's data and displayText.
- "Characters" is not defined (code points or UTF-16 units): this validation counts code points (len()); the
  renderer (handlers/lineworks/render.py) makes labels fit in UTF-16 units, the stricter reading, since many
  labels carry emoji outside the BMP (💾, 🚩, 🔒), which count two there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MAX_TEXT = 2000  # bot-send-text
MAX_QUICK_REPLY_ITEMS = 13  # bot-quickreply
MAX_LABEL = 20  # bot-actionobject (image carousels: 12; we send none)
MAX_POSTBACK_DATA = 300  # bot-actionobject, postback action "data"
MAX_DISPLAY_TEXT = 300  # bot-actionobject, postback action "displayText"
MAX_BUTTONS = 10  # bot-send-button
MAX_CONTENT_TEXT = 1000  # bot-send-button (documented for i18nContentTexts; applied to contentText as well)
# Not found in the docs: our own bound for a message action's text and postback (the postback action's limit).
MAX_MESSAGE_ACTION_FIELD = 300

QUICK_REPLY_ACTIONS = frozenset({"postback", "message", "uri", "camera", "cameraRoll", "location", "copy"})
BUTTON_TEMPLATE_ACTIONS = frozenset({"message", "uri", "copy"})  # bot-actionobject: no postback action here
MAX_MENU_ACTIONS = 4  # bot-persistentmenu-create: maxItems 4
MENU_ACTIONS = frozenset({"message", "uri", "copy"})  # bot-persistentmenu-create: the allowed types
MAX_MENU_LABEL = MAX_LABEL  # our bound: the reference allows 1,000 characters in a persistent menu
MAX_CONTENT_URL = 1000  # bot-send-file, bot-send-image: originalContentUrl, previewImageUrl
MAX_FILE_NAME = 200  # our bound, from the drive's upload pages (none is given for a bot's attachment)
# bot-send-file: extensions LINE WORKS refuses to send by default.
BLOCKED_EXTENSIONS = frozenset({"bat", "cmd", "com", "cpl", "exe", "scr", "js", "vbs", "wsf", "hta"})

JSONDict = dict[str, Any]


def _text_field(name: str, value: object, limit: int, *, required: bool = True) -> None:
    if value is None and not required:
        return
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    if len(value) > limit:
        raise ValueError(f"{name} has {len(value)} characters; LINE WORKS allows at most {limit}")


def postback_action(label: str, data: str, display_text: str) -> JSONDict:
    """A postback action (quick replies): pressing it sends a postback event carrying `data`, and shows
    `display_text` in the chat as what the user said (required in a quick reply, bot-actionobject)."""
    action: JSONDict = {"type": "postback", "label": label, "data": data, "displayText": display_text}
    validate_action(action, quick_reply=True)
    return action


def message_action(label: str, *, text: str | None = None, postback: str | None = None) -> JSONDict:
    """A message action (button templates, quick replies): pressing it sends a message event with content.text
    and content.postback. bot-send-button: "the button label's text and the postback are sent" when no `text` is
    given; what a given `text` does we take from LINE's Messaging API (it replaces the label as what is said)."""
    action: JSONDict = {"type": "message", "label": label}
    if text is not None:
        action["text"] = text
    if postback is not None:
        action["postback"] = postback
    validate_action(action, quick_reply=False)
    return action


def quick_reply_item(action: Mapping[str, Any], *, image_url: str | None = None) -> JSONDict:
    item: JSONDict = {"action": dict(action)}
    if image_url is not None:
        item["imageUrl"] = image_url
    return item


def text_content(text: str, quick_replies: Sequence[Mapping[str, Any]] = ()) -> JSONDict:
    """A text message, with quick-reply items when given (each an action, or an item from `quick_reply_item`)."""
    content: JSONDict = {"type": "text", "text": text}
    if quick_replies:
        items = [dict(q) if "action" in q else quick_reply_item(q) for q in quick_replies]
        content["quickReply"] = {"items": items}
    validate_content(content)
    return content


def button_template(content_text: str, actions: Sequence[Mapping[str, Any]]) -> JSONDict:
    """A button template: text above at most 10 buttons, message (or uri, copy) actions only."""
    content: JSONDict = {"type": "button_template", "contentText": content_text, "actions": [dict(a) for a in actions]}
    validate_content(content)
    return content


def menu_content(actions: Sequence[Mapping[str, Any]]) -> JSONDict:
    """The content of a persistent menu (bot-persistentmenu-create): 1 to 4 buttons, message, uri or copy actions,
    each labelled in at most 20 characters (our bound, above). Raises ValueError before anything is sent."""
    if not actions:
        raise ValueError("a persistent menu needs at least one action")
    if len(actions) > MAX_MENU_ACTIONS:
        raise ValueError(f"a persistent menu has at most {MAX_MENU_ACTIONS} buttons, not {len(actions)}")
    for action in actions:
        if not isinstance(action, Mapping) or action.get("type") not in MENU_ACTIONS:
            found = action.get("type") if isinstance(action, Mapping) else action
            raise ValueError(f"a persistent menu takes message, uri or copy actions, not {found!r}")
        _text_field("label", action.get("label"), MAX_MENU_LABEL)  # required here, uri and copy actions included
        validate_action(action, quick_reply=False)
    return {"actions": [dict(a) for a in actions]}


def file_content(file_id: str) -> JSONDict:
    """A file message naming a file uploaded through bot-attachment-create (bot-send-file, file-ID form)."""
    content: JSONDict = {"type": "file", "fileId": file_id}
    validate_content(content)
    return content


def image_content(file_id: str) -> JSONDict:
    """An image message naming an image uploaded through bot-attachment-create (bot-send-image, file-ID form)."""
    content: JSONDict = {"type": "image", "fileId": file_id}
    validate_content(content)
    return content


def validate_file_name(name: str) -> None:
    """Raise ValueError for a file name LINE WORKS would not take or send: empty, over 200 characters (our bound),
    holding a path separator, a quote or a control character (it goes into a multipart header), or ending in an
    extension refused by default (bot-send-file)."""
    _text_field("fileName", name, MAX_FILE_NAME)
    if any(ch in '/\\"' or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise ValueError("fileName must not hold a path separator, a quote or a control character")
    extension = name.rpartition(".")[2].lower() if "." in name else ""
    if extension in BLOCKED_EXTENSIONS:
        raise ValueError(f"LINE WORKS refuses to send .{extension} files by default")


def validate_action(action: Mapping[str, Any], *, quick_reply: bool) -> None:
    """Raise ValueError when an action breaks a documented limit (bot-actionobject)."""
    kind = action.get("type")
    if kind == "postback":
        _text_field("label", action.get("label"), MAX_LABEL)
        _text_field("data", action.get("data"), MAX_POSTBACK_DATA)
        _text_field("displayText", action.get("displayText"), MAX_DISPLAY_TEXT, required=quick_reply)
    elif kind == "message":
        _text_field("label", action.get("label"), MAX_LABEL)
        _text_field("text", action.get("text"), MAX_MESSAGE_ACTION_FIELD, required=False)
        _text_field("postback", action.get("postback"), MAX_MESSAGE_ACTION_FIELD, required=False)
    elif kind in QUICK_REPLY_ACTIONS:
        _text_field("label", action.get("label"), MAX_LABEL, required=False)  # when it has one
    else:
        raise ValueError(f"unknown action type {kind!r}")


def validate_content(content: Mapping[str, Any]) -> None:
    """Raise ValueError when a content dict breaks a limit above; a type we do not build passes unchecked
    (LINE WORKS judges it)."""
    kind = content.get("type")
    if kind == "text":
        _text_field("text", content.get("text"), MAX_TEXT)
    elif kind == "button_template":
        _validate_buttons(content)
    elif kind in ("file", "image"):
        _validate_media(content)
    if content.get("quickReply") is not None:
        _validate_quick_reply(content["quickReply"])


def _validate_buttons(content: Mapping[str, Any]) -> None:
    _text_field("contentText", content.get("contentText"), MAX_CONTENT_TEXT)
    actions = content.get("actions")
    if not isinstance(actions, list) or not actions:
        raise ValueError("a button template needs at least one action")
    if len(actions) > MAX_BUTTONS:
        raise ValueError(f"a button template has at most {MAX_BUTTONS} buttons, not {len(actions)}")
    for action in actions:
        if not isinstance(action, Mapping) or action.get("type") not in BUTTON_TEMPLATE_ACTIONS:
            found = action.get("type") if isinstance(action, Mapping) else action
            raise ValueError(f"a button template takes message, uri or copy actions, not {found!r}")
        validate_action(action, quick_reply=False)


def _validate_media(content: Mapping[str, Any]) -> None:
    """A file or image content names either an uploaded fileId or its URLs (HTTPS), never both."""
    urls = ("previewImageUrl", "originalContentUrl") if content["type"] == "image" else ("originalContentUrl",)
    given = [name for name in urls if content.get(name) is not None]
    if content.get("fileId") is not None:
        if given:
            raise ValueError(f"a {content['type']} message takes fileId or {' and '.join(urls)}, not both")
        if not isinstance(content["fileId"], str) or not content["fileId"]:
            raise ValueError("fileId must be a non-empty string")
        return
    if len(given) != len(urls):
        raise ValueError(f"a {content['type']} message needs fileId or {' and '.join(urls)}")
    for name in urls:
        _text_field(name, content[name], MAX_CONTENT_URL)
        if not content[name].startswith("https://"):
            raise ValueError(f"{name} must be an HTTPS URL")


def _validate_quick_reply(quick: object) -> None:
    items = quick.get("items") if isinstance(quick, Mapping) else None
    if not isinstance(items, list) or not items:
        raise ValueError("quickReply.items must be a non-empty list")
    if len(items) > MAX_QUICK_REPLY_ITEMS:
        raise ValueError(f"a quick reply has at most {MAX_QUICK_REPLY_ITEMS} items, not {len(items)}")
    for item in items:
        action = item.get("action") if isinstance(item, Mapping) else None
        if not isinstance(action, Mapping) or action.get("type") not in QUICK_REPLY_ACTIONS:
            raise ValueError("each quick-reply item needs an action a quick reply allows")
        validate_action(action, quick_reply=True)
