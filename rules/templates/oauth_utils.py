"""Guards for OAuth provider responses.

OAuth providers sometimes answer a token request with an HTML error page (a Cloudflare
challenge, a proxy's 502 page, a login wall, a maintenance page) instead of JSON, and code
that calls ``response.json()`` on it crashes. Call :func:`check_html_response` first::

    is_html, html_error = check_html_response(response)
    if is_html:
        raise HTTPException(status_code=400, detail=html_error or "Provider returned an HTML error page")
    token = response.json()

This module was inserted by oauth-audit. It uses the standard library only and follows the
rules of oauth-audit's reference runtime (``src/runtime/html.rs``) exactly; the shared test
vectors check that both give the same answer for every case.
"""

import re
from typing import Any, List, Optional, Tuple

__all__ = ["check_html_response", "detect_html", "page_title"]

# HTML's ASCII whitespace: tab, line feed, form feed, carriage return, space.
_WHITESPACE = "\t\n\x0c\r "
_WHITESPACE_RUNS = re.compile("[\t\n\x0c\r \u00a0]+")
# Lowercases A-Z only, so offsets in the lowered copy match the original text.
_ASCII_LOWER = {code: code + 32 for code in range(ord("A"), ord("Z") + 1)}
_TAG_NAME_END = _WHITESPACE + ">/"
_MARKUP_OPENINGS = ("<html", "<head", "<body", "<title")
_HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml")
_NAMED_REFERENCES = (
    ("&amp;", "&"),
    ("&lt;", "<"),
    ("&gt;", ">"),
    ("&quot;", '"'),
    ("&apos;", "'"),
    ("&nbsp;", "\u00a0"),
)
_NUMERIC_REFERENCE = re.compile(r"&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));")
_TITLE_LIMIT = 200


def detect_html(status: int, content_type: Optional[str], body: bytes) -> Tuple[bool, Optional[str]]:
    """Tell a provider's error page from a token response.

    Args:
        status: the HTTP status code.
        content_type: the ``Content-Type`` header value, or ``None``.
        body: the raw response body.

    Returns:
        ``(is_html, message)``. ``is_html`` is true for an HTML page, an empty body, or any
        other non-JSON answer with a status of 400 or more; ``message`` is then the page's
        ``<title>`` or a generic message with the status. For a token response (JSON, or a
        non-HTML answer below 400 such as GitHub's form-encoded one) it is ``(False, None)``.
    """
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    text = body.decode("utf-8", errors="replace").lstrip(_WHITESPACE)
    if not text:
        return True, f"Provider returned an empty response (HTTP {status})"
    if text[0] in "{[":
        return False, None
    if _starts_with_html_markup(text) or _is_html_media_type(content_type):
        kind = "an HTML error page"
    elif status >= 400:
        kind = "a non-JSON error response"
    else:
        return False, None
    title = page_title(text)
    return True, title if title is not None else f"Provider returned {kind} (HTTP {status})"


def check_html_response(response: Any) -> Tuple[bool, Optional[str]]:
    """Check an ``httpx`` or ``requests`` response before calling ``.json()`` on it.

    Reads ``response.status_code``, ``response.headers.get("content-type")`` and
    ``response.content`` (with httpx, a streamed response must be read first).

    Returns:
        ``(is_html, html_error)`` as :func:`detect_html` does.
    """
    headers = getattr(response, "headers", None)
    content_type = headers.get("content-type") if headers is not None else None
    body = getattr(response, "content", None)
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    else:
        body = bytes(body)
    return detect_html(int(response.status_code), content_type, body)


def page_title(text: str) -> Optional[str]:
    """Return the text of the first ``<title>`` element of a page, or ``None``.

    Character references are decoded, runs of whitespace and no-break spaces collapse to one
    space, and a title longer than 200 characters is cut to 200 followed by an ellipsis.
    ``None`` when there is no closing ``</title>`` or the title is blank.
    """
    lower = text.translate(_ASCII_LOWER)
    at = lower.find("<title")
    while True:
        if at < 0:
            return None
        name_end = at + len("<title")
        if name_end < len(lower) and lower[name_end] in _TAG_NAME_END:
            tag_end = lower.find(">", name_end)
            if tag_end < 0:
                return None
            content_start = tag_end + 1
            break
        at = lower.find("<title", name_end)
    at = lower.find("</title", content_start)
    while True:
        if at < 0:
            return None
        name_end = at + len("</title")
        if name_end < len(lower) and lower[name_end] in _TAG_NAME_END:
            content_end = at
            break
        at = lower.find("</title", name_end)
    title = _WHITESPACE_RUNS.sub(" ", _decode_entities(text[content_start:content_end])).strip(" ")
    if not title:
        return None
    if len(title) > _TITLE_LIMIT:
        return title[:_TITLE_LIMIT] + "\u2026"
    return title


def _starts_with_html_markup(text: str) -> bool:
    """Whether the text opens with HTML, after XML declarations, comments and whitespace."""
    lower = text.translate(_ASCII_LOWER)
    position = 0
    while True:
        position = _skip_whitespace(lower, position)
        if lower.startswith("<?xml", position):
            end = lower.find("?>", position + len("<?xml"))
            if end < 0:
                break
            position = end + len("?>")
        elif lower.startswith("<!--", position):
            end = lower.find("-->", position + len("<!--"))
            if end < 0:
                break
            position = end + len("-->")
        else:
            break
    if lower.startswith("<!doctype", position):
        after = position + len("<!doctype")
        name = _skip_whitespace(lower, after)
        return name > after and _opens_tag(lower, name, "html")
    return any(_opens_tag(lower, position, opening) for opening in _MARKUP_OPENINGS)


def _skip_whitespace(text: str, position: int) -> int:
    while position < len(text) and text[position] in _WHITESPACE:
        position += 1
    return position


def _opens_tag(lower: str, position: int, name: str) -> bool:
    """Whether ``name`` is at ``position``, followed by whitespace, ``>``, ``/`` or the end."""
    if not lower.startswith(name, position):
        return False
    end = position + len(name)
    return end == len(lower) or lower[end] in _TAG_NAME_END


def _is_html_media_type(content_type: Optional[str]) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(";", 1)[0].strip(_WHITESPACE).translate(_ASCII_LOWER)
    return media_type in _HTML_MEDIA_TYPES


def _decode_entities(raw: str) -> str:
    parts: List[str] = []
    position = 0
    while True:
        at = raw.find("&", position)
        if at < 0:
            parts.append(raw[position:])
            return "".join(parts)
        parts.append(raw[position:at])
        decoded = _decode_reference(raw, at)
        if decoded is None:
            parts.append("&")
            position = at + 1
        else:
            parts.append(decoded[0])
            position = at + decoded[1]


def _decode_reference(raw: str, at: int) -> Optional[Tuple[str, int]]:
    """The character a reference at ``raw[at]`` stands for, and the reference's length."""
    for name, character in _NAMED_REFERENCES:
        if raw.startswith(name, at):
            return character, len(name)
    match = _NUMERIC_REFERENCE.match(raw, at)
    if match is None:
        return None
    hex_digits, decimal_digits = match.group(1), match.group(2)
    digits = (hex_digits if hex_digits is not None else decimal_digits).lstrip("0")
    # Long numbers are out of range anyway, and int() refuses very long digit strings.
    if not digits or len(digits) > 8:
        return None
    value = int(digits, 16 if hex_digits is not None else 10)
    if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
        return None
    return chr(value), match.end() - at
