/**
 * Guards for OAuth provider responses.
 *
 * OAuth providers sometimes answer a token request with an HTML error page (a Cloudflare
 * challenge, a proxy's 502 page, a login wall, a maintenance page) instead of JSON, and code
 * that calls `res.json()` on it throws. Call {@link checkHtmlResponse} first:
 *
 * ```ts
 * const { isHtml, message } = await checkHtmlResponse(res);
 * if (isHtml) {
 *   return NextResponse.json({ error: message ?? "Provider returned an HTML error page" }, { status: 400 });
 * }
 * const token = await res.json();
 * ```
 *
 * This module was inserted by oauth-audit. It has no dependencies and follows the rules of
 * oauth-audit's reference runtime (`src/runtime/html.rs`) exactly; the shared test vectors
 * check that both give the same answer for every case.
 */

/** What {@link detectHtml} and {@link checkHtmlResponse} found. */
export interface HtmlCheck {
  /** The body is an error page (HTML, empty, or a non-JSON error answer), not a token response. */
  isHtml: boolean;
  /** The page's `<title>`, or a generic message with the status; `null` for a token response. */
  message: string | null;
}

const TITLE_LIMIT = 200;
// HTML's ASCII whitespace: tab, line feed, form feed, carriage return, space.
const WHITESPACE = "\t\n\f\r ";
const TAG_NAME_END = WHITESPACE + ">/";
const WHITESPACE_RUNS = /[\t\n\f\r \u00a0]+/g;
const MARKUP_OPENINGS = ["<html", "<head", "<body", "<title"];
const HTML_MEDIA_TYPES = ["text/html", "application/xhtml+xml"];
const NAMED_REFERENCES: ReadonlyArray<readonly [string, string]> = [
  ["&amp;", "&"],
  ["&lt;", "<"],
  ["&gt;", ">"],
  ["&quot;", '"'],
  ["&apos;", "'"],
  ["&nbsp;", "\u00a0"],
];
// Sticky: matches only at `lastIndex`.
const NUMERIC_REFERENCE = /&#(?:[xX]([0-9A-Fa-f]+)|([0-9]+));/y;

/**
 * Tells a provider's error page from a token response.
 *
 * `isHtml` is true for an HTML page, an empty body, or any other non-JSON answer with a status
 * of 400 or more; `message` is then the page's `<title>` or a generic message with the status.
 * For a token response (JSON, or a non-HTML answer below 400 such as GitHub's form-encoded
 * one) the result is `{ isHtml: false, message: null }`. A string body is taken as the decoded
 * text of the response.
 */
export function detectHtml(status: number, contentType: string | null | undefined, body: Uint8Array | string): HtmlCheck {
  let bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    bytes = bytes.subarray(3);
  }
  // ignoreBOM: the one leading mark is already gone, a second one is text.
  const text = new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  const start = skipWhitespace(text, 0);
  if (start === text.length) {
    return { isHtml: true, message: `Provider returned an empty response (HTTP ${status})` };
  }
  const rest = text.slice(start);
  if (rest[0] === "{" || rest[0] === "[") {
    return { isHtml: false, message: null };
  }
  let kind: string;
  if (startsWithHtmlMarkup(rest) || isHtmlMediaType(contentType)) {
    kind = "an HTML error page";
  } else if (status >= 400) {
    kind = "a non-JSON error response";
  } else {
    return { isHtml: false, message: null };
  }
  return { isHtml: true, message: pageTitle(rest) ?? `Provider returned ${kind} (HTTP ${status})` };
}

/**
 * Checks a `fetch` response before `res.json()` is called on it. Reads the body of a clone,
 * so `res` itself can still be read; call it before anything consumes the body.
 */
export async function checkHtmlResponse(res: Response): Promise<HtmlCheck> {
  const body = new Uint8Array(await res.clone().arrayBuffer());
  return detectHtml(res.status, res.headers.get("content-type"), body);
}

/**
 * The text of the first `<title>` element of a page: character references decoded, runs of
 * whitespace and no-break spaces collapsed to one space, at most 200 characters then an
 * ellipsis. `null` when there is no closing `</title>` or the title is blank.
 */
export function pageTitle(text: string): string | null {
  const lower = asciiLower(text);
  let at = lower.indexOf("<title");
  let contentStart: number;
  for (;;) {
    if (at < 0) return null;
    const nameEnd = at + "<title".length;
    if (nameEnd < lower.length && TAG_NAME_END.includes(lower.charAt(nameEnd))) {
      const tagEnd = lower.indexOf(">", nameEnd);
      if (tagEnd < 0) return null;
      contentStart = tagEnd + 1;
      break;
    }
    at = lower.indexOf("<title", nameEnd);
  }
  at = lower.indexOf("</title", contentStart);
  let contentEnd: number;
  for (;;) {
    if (at < 0) return null;
    const nameEnd = at + "</title".length;
    if (nameEnd < lower.length && TAG_NAME_END.includes(lower.charAt(nameEnd))) {
      contentEnd = at;
      break;
    }
    at = lower.indexOf("</title", nameEnd);
  }
  const title = decodeEntities(text.slice(contentStart, contentEnd)).replace(WHITESPACE_RUNS, " ").replace(/^ | $/g, "");
  if (title === "") return null;
  // Count Unicode scalar values, not UTF-16 code units.
  const characters = Array.from(title);
  return characters.length > TITLE_LIMIT ? characters.slice(0, TITLE_LIMIT).join("") + "\u2026" : title;
}

/** Lowercases A-Z only, so offsets in the copy match the original text. */
function asciiLower(text: string): string {
  return text.replace(/[A-Z]+/g, (letters) => letters.toLowerCase());
}

function skipWhitespace(text: string, position: number): number {
  while (position < text.length && WHITESPACE.includes(text.charAt(position))) position += 1;
  return position;
}

/** Whether `name` is at `position`, followed by whitespace, `>`, `/` or the end of the text. */
function opensTag(lower: string, position: number, name: string): boolean {
  if (!lower.startsWith(name, position)) return false;
  const end = position + name.length;
  return end === lower.length || TAG_NAME_END.includes(lower.charAt(end));
}

/** Whether the text opens with HTML, after XML declarations, comments and whitespace. */
function startsWithHtmlMarkup(text: string): boolean {
  const lower = asciiLower(text);
  let position = 0;
  for (;;) {
    position = skipWhitespace(lower, position);
    let end: number;
    if (lower.startsWith("<?xml", position)) {
      end = lower.indexOf("?>", position + "<?xml".length);
      if (end < 0) break;
      position = end + "?>".length;
    } else if (lower.startsWith("<!--", position)) {
      end = lower.indexOf("-->", position + "<!--".length);
      if (end < 0) break;
      position = end + "-->".length;
    } else {
      break;
    }
  }
  if (lower.startsWith("<!doctype", position)) {
    const after = position + "<!doctype".length;
    const name = skipWhitespace(lower, after);
    return name > after && opensTag(lower, name, "html");
  }
  return MARKUP_OPENINGS.some((opening) => opensTag(lower, position, opening));
}

function isHtmlMediaType(contentType: string | null | undefined): boolean {
  if (contentType === null || contentType === undefined) return false;
  const semicolon = contentType.indexOf(";");
  const head = semicolon < 0 ? contentType : contentType.slice(0, semicolon);
  const mediaType = asciiLower(head.slice(skipWhitespace(head, 0), trimEnd(head)));
  return HTML_MEDIA_TYPES.includes(mediaType);
}

/** The end of `text` without trailing whitespace. */
function trimEnd(text: string): number {
  let end = text.length;
  while (end > 0 && WHITESPACE.includes(text.charAt(end - 1))) end -= 1;
  return end;
}

function decodeEntities(raw: string): string {
  let decoded = "";
  let position = 0;
  for (;;) {
    const at = raw.indexOf("&", position);
    if (at < 0) return decoded + raw.slice(position);
    decoded += raw.slice(position, at);
    const reference = decodeReference(raw, at);
    if (reference === null) {
      decoded += "&";
      position = at + 1;
    } else {
      decoded += reference[0];
      position = at + reference[1];
    }
  }
}

/** The character a reference at `raw[at]` stands for, and the reference's length. */
function decodeReference(raw: string, at: number): readonly [string, number] | null {
  for (const [name, character] of NAMED_REFERENCES) {
    if (raw.startsWith(name, at)) return [character, name.length];
  }
  NUMERIC_REFERENCE.lastIndex = at;
  const match = NUMERIC_REFERENCE.exec(raw);
  if (match === null) return null;
  const hex = match[1];
  const digits = (hex ?? match[2] ?? "").replace(/^0+/, "");
  // Long numbers are out of range anyway.
  if (digits === "" || digits.length > 8) return null;
  const value = parseInt(digits, hex === undefined ? 10 : 16);
  if (value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) return null;
  return [String.fromCodePoint(value), match[0].length];
}
