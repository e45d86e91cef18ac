//! Telling a provider's HTML (or empty) error page from a token response.
//!
//! OAuth providers sometimes answer a token request with a Cloudflare challenge, a proxy's 502
//! page, a login wall or a maintenance page instead of JSON, and code that parses the body as
//! JSON crashes on it. [`check_html_response`] recognises such an answer from the HTTP status,
//! the `Content-Type` header and the body, and gives a message for the user: the page's
//! `<title>` when it has one. This module is the oracle: the Python and TypeScript guard helpers
//! that the codemods insert (`rules/templates/oauth_utils.py`, `rules/templates/oauth-utils.ts`)
//! follow the same rules, and the vectors in `fixtures/vectors/html-detection.json` are run
//! against all three by `tests/html_vectors.rs`.
//!
//! # Semantics
//!
//! "Whitespace" is ASCII whitespace as HTML defines it: tab, line feed, form feed, carriage
//! return and space (not vertical tab, not Unicode spaces). "Case-insensitive" means ASCII
//! case-insensitive: only `A`–`Z` fold.
//!
//! 1. Drop one leading UTF-8 byte order mark (`EF BB BF`), decode the rest as UTF-8 lossily
//!    (each maximal invalid subsequence becomes one U+FFFD, as `String::from_utf8_lossy`,
//!    Python's `errors="replace"` and WHATWG `TextDecoder` do), then skip leading whitespace.
//!    The rest is the *text*.
//! 2. Empty text: an error page, "Provider returned an empty response (HTTP {status})".
//! 3. Text starting with `{` or `[`: not an error page, whatever the content type or status
//!    (JSON; if it is broken, parsing it reports that). No message.
//! 4. Markup: skip, as many times as they occur, whitespace, an XML declaration (from `<?xml`,
//!    case-insensitive, to the next `?>`, so `<?xml-stylesheet ...?>` is skipped too) and HTML
//!    comments (from `<!--` to the next `-->`, searched from just after the `<!--`). An
//!    unterminated declaration or comment stops the skipping where it starts. If what remains
//!    starts, case-insensitively, with `<!doctype html`, `<html`, `<head`, `<body` or `<title`,
//!    each followed by whitespace, `>`, `/` or the end of the text: an error page. Between
//!    `<!doctype` and `html` any run of whitespace is accepted (`<!DOCTYPE\nhtml>`), but at
//!    least one is needed. `<htmlfoo>` or `<header>` do not match here.
//! 5. The media type (the `Content-Type` value before any `;`, trimmed of whitespace,
//!    ASCII-lowercased) is `text/html` or `application/xhtml+xml`: an error page.
//! 6. Otherwise a status of 400 or more is an error page (a non-JSON error answer such as a
//!    `text/plain` "Bad Gateway"), and a status below 400 is not (GitHub's form-encoded
//!    `access_token=...&scope=` answer with 200 is a token response). No message then.
//!
//! The message of an error page from rules 4–6 is its title ([`page_title`]), or when there is
//! none, "Provider returned an HTML error page (HTTP {status})" for rules 4 and 5 and "Provider
//! returned a non-JSON error response (HTTP {status})" for rule 6.
//!
//! The title is found in the text as written, without parsing HTML:
//! - the opening tag is the first `<title` (case-insensitive) followed by whitespace, `>` or
//!   `/`; attributes are allowed and the tag ends at the first `>` after it (quotes are not
//!   considered); `<titles>` is not a title. A `<title` inside a comment or an `<svg>` counts.
//! - the content ends at the first `</title` (case-insensitive) after the opening tag that is
//!   followed by whitespace, `>` or `/`. Without one (a truncated page) there is no title.
//! - character references are decoded in one pass: `&amp;` `&lt;` `&gt;` `&quot;` `&apos;`
//!   `&nbsp;` (names case-sensitive, `;` required) and numeric `&#NNN;`, `&#xHH;` or `&#XHH;`.
//!   Unknown names, a missing `;`, and numbers that are not a Unicode scalar value or are 0
//!   (surrogates, above U+10FFFF) are kept as written. `&amp;lt;` becomes `&lt;`.
//! - after decoding, every run of whitespace or U+00A0 (no-break space) becomes one space and
//!   the result is trimmed; an empty result is no title.
//! - a title longer than 200 Unicode scalar values is cut to its first 200 followed by `…`
//!   (201 in all), with nothing trimmed after the cut.

/// What [`check_html_response`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HtmlCheck {
    /// The body is an error page (HTML, empty, or a non-JSON error answer), not a token response.
    pub is_error_page: bool,
    /// The message for the user: the page's title, or a generic one with the status. `None`
    /// when the body is not an error page.
    pub message: Option<String>,
}

/// The longest title kept, in Unicode scalar values.
const TITLE_LIMIT: usize = 200;

const BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Whether a provider's answer is an error page rather than a token response, and what to tell
/// the user. See the [module documentation](self) for the exact rules.
///
/// ```
/// use oauth_audit::runtime::html::check_html_response;
///
/// let page = b"<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>";
/// let check = check_html_response(502, Some("text/html"), page);
/// assert!(check.is_error_page);
/// assert_eq!(check.message.as_deref(), Some("502 Bad Gateway"));
///
/// let token = br#"{"access_token":"gho_x","token_type":"bearer"}"#;
/// let check = check_html_response(200, Some("application/json"), token);
/// assert!(!check.is_error_page);
/// assert_eq!(check.message, None);
///
/// let check = check_html_response(504, None, b"");
/// assert_eq!(check.message.as_deref(), Some("Provider returned an empty response (HTTP 504)"));
/// ```
pub fn check_html_response(status: u16, content_type: Option<&str>, body: &[u8]) -> HtmlCheck {
    let body = body.strip_prefix(BYTE_ORDER_MARK).unwrap_or(body);
    let decoded = String::from_utf8_lossy(body);
    let text = decoded.trim_start_matches(is_whitespace);
    if text.is_empty() {
        return error_page(format!("Provider returned an empty response (HTTP {status})"));
    }
    if text.starts_with(['{', '[']) {
        return HtmlCheck { is_error_page: false, message: None };
    }
    let kind = if starts_with_html_markup(text) || is_html_media_type(content_type) {
        "an HTML error page"
    } else if status >= 400 {
        "a non-JSON error response"
    } else {
        return HtmlCheck { is_error_page: false, message: None };
    };
    error_page(page_title(text).unwrap_or_else(|| format!("Provider returned {kind} (HTTP {status})")))
}

/// The text of the first `<title>` element of a page: entities decoded, whitespace collapsed,
/// at most 200 characters then `…`. `None` when there is no complete, non-blank title. See the
/// [module documentation](self) for the exact rules.
///
/// ```
/// use oauth_audit::runtime::html::page_title;
///
/// let page = "<html><TITLE lang=\"en\">\n  Access   denied &amp; logged &#x2014; Zscaler\n</TITLE>";
/// assert_eq!(page_title(page).as_deref(), Some("Access denied & logged \u{2014} Zscaler"));
/// assert_eq!(page_title("<title>Attention Required! | Cloudf"), None);
/// ```
pub fn page_title(text: &str) -> Option<String> {
    // Lowercasing only ASCII keeps every byte offset the same in `lower` and `text`.
    let lower = text.to_ascii_lowercase();
    let mut from = 0;
    let content_start = loop {
        let at = from + lower.get(from..)?.find("<title")?;
        let name_end = at + "<title".len();
        let after_name = lower.get(name_end..)?;
        if after_name.chars().next().is_some_and(ends_title_name) {
            break name_end + after_name.find('>')? + 1;
        }
        from = name_end;
    };
    let mut from = content_start;
    let content_end = loop {
        let at = from + lower.get(from..)?.find("</title")?;
        let name_end = at + "</title".len();
        if lower.get(name_end..)?.chars().next().is_some_and(ends_title_name) {
            break at;
        }
        from = name_end;
    };
    let title = collapse_whitespace(&decode_entities(text.get(content_start..content_end)?));
    if title.is_empty() {
        return None;
    }
    if title.chars().count() <= TITLE_LIMIT {
        return Some(title);
    }
    let mut cut: String = title.chars().take(TITLE_LIMIT).collect();
    cut.push('…');
    Some(cut)
}

fn error_page(message: String) -> HtmlCheck {
    HtmlCheck { is_error_page: true, message: Some(message) }
}

/// ASCII whitespace as HTML defines it (no vertical tab).
fn is_whitespace(character: char) -> bool {
    matches!(character, '\t' | '\n' | '\x0C' | '\r' | ' ')
}

/// What may follow a tag name: whitespace, `>` or `/`.
fn ends_title_name(character: char) -> bool {
    is_whitespace(character) || character == '>' || character == '/'
}

/// `text` without `prefix`, when it starts with it ASCII case-insensitively.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.as_bytes().get(..prefix.len())?;
    // An ASCII prefix that matches ends on a character boundary, so `get` cannot fail here.
    if head.eq_ignore_ascii_case(prefix.as_bytes()) { text.get(prefix.len()..) } else { None }
}

/// Rule 4: the text opens with HTML markup, after any XML declaration, comments and whitespace.
fn starts_with_html_markup(text: &str) -> bool {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(is_whitespace);
        let skipped = if let Some(after) = strip_prefix_ignore_case(rest, "<?xml") {
            after.find("?>").and_then(|end| after.get(end + "?>".len()..))
        } else if let Some(after) = rest.strip_prefix("<!--") {
            after.find("-->").and_then(|end| after.get(end + "-->".len()..))
        } else {
            None
        };
        match skipped {
            Some(after) => rest = after,
            None => break,
        }
    }
    let ends_tag_name = |after: &str| after.chars().next().is_none_or(ends_title_name);
    if let Some(after) = strip_prefix_ignore_case(rest, "<!doctype") {
        let name = after.trim_start_matches(is_whitespace);
        return name.len() < after.len() && strip_prefix_ignore_case(name, "html").is_some_and(ends_tag_name);
    }
    ["<html", "<head", "<body", "<title"].into_iter().any(|tag| strip_prefix_ignore_case(rest, tag).is_some_and(ends_tag_name))
}

/// Rule 5: the `Content-Type` names an HTML media type.
fn is_html_media_type(content_type: Option<&str>) -> bool {
    let Some(value) = content_type else { return false };
    let media_type = value.split(';').next().unwrap_or_default().trim_matches(is_whitespace);
    media_type.eq_ignore_ascii_case("text/html") || media_type.eq_ignore_ascii_case("application/xhtml+xml")
}

/// Decodes the character references a title may carry; anything else stays as written.
fn decode_entities(raw: &str) -> String {
    let mut decoded = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        decoded.push_str(rest.get(..at).unwrap_or_default());
        let reference = rest.get(at..).unwrap_or_default();
        match decode_reference(reference) {
            Some((character, length)) => {
                decoded.push(character);
                rest = reference.get(length..).unwrap_or_default();
            }
            None => {
                decoded.push('&');
                rest = reference.get(1..).unwrap_or_default();
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

/// The character a reference at the start of `reference` (which starts with `&`) stands for,
/// and the reference's length in bytes.
fn decode_reference(reference: &str) -> Option<(char, usize)> {
    const NAMED: [(&str, char); 6] =
        [("&amp;", '&'), ("&lt;", '<'), ("&gt;", '>'), ("&quot;", '"'), ("&apos;", '\''), ("&nbsp;", '\u{A0}')];
    if let Some((name, character)) = NAMED.into_iter().find(|(name, _)| reference.starts_with(name)) {
        return Some((character, name.len()));
    }
    let number = reference.strip_prefix("&#")?;
    let (radix, digits) = match number.strip_prefix(['x', 'X']) {
        Some(hex) => (16, hex),
        None => (10, number),
    };
    let count = digits.bytes().take_while(|byte| if radix == 16 { byte.is_ascii_hexdigit() } else { byte.is_ascii_digit() }).count();
    if count == 0 || digits.as_bytes().get(count) != Some(&b';') {
        return None;
    }
    // Too many digits overflow u32 and are kept as written, like any value above U+10FFFF.
    let value = u32::from_str_radix(digits.get(..count)?, radix).ok()?;
    let character = char::from_u32(value).filter(|character| *character != '\0')?;
    Some((character, reference.len() - digits.len() + count + 1))
}

/// Runs of whitespace or no-break spaces become one space; the ends are trimmed.
fn collapse_whitespace(text: &str) -> String {
    text.split(|character| is_whitespace(character) || character == '\u{A0}').filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: u16, content_type: Option<&str>, body: &str) -> HtmlCheck {
        check_html_response(status, content_type, body.as_bytes())
    }

    fn message(status: u16, content_type: Option<&str>, body: &str) -> Option<String> {
        let result = check(status, content_type, body);
        assert!(result.is_error_page, "{body:?} is an error page");
        result.message
    }

    #[test]
    fn byte_order_mark_is_dropped_once_then_whitespace() {
        let body = b"\xEF\xBB\xBF \r\n\t<!DOCTYPE html><title>Down</title>";
        assert_eq!(check_html_response(200, None, body).message.as_deref(), Some("Down"));
        assert_eq!(
            check_html_response(502, None, b"\xEF\xBB\xBF\n").message.as_deref(),
            Some("Provider returned an empty response (HTTP 502)")
        );
        // A second mark is text: not JSON, not markup.
        let twice = b"\xEF\xBB\xBF\xEF\xBB\xBF{}";
        assert_eq!(check_html_response(200, Some("application/json"), twice), HtmlCheck { is_error_page: false, message: None });
        assert!(check_html_response(500, Some("application/json"), twice).is_error_page);
    }

    #[test]
    fn vertical_tab_and_unicode_spaces_are_not_whitespace() {
        assert!(!check(200, None, "\x0B").is_error_page);
        assert!(!check(200, None, "\u{A0}<html>").is_error_page);
        assert_eq!(message(503, None, "\u{2003}"), Some("Provider returned a non-JSON error response (HTTP 503)".into()));
    }

    #[test]
    fn json_wins_over_html_content_type() {
        assert_eq!(check(502, Some("text/html"), "  [1]"), HtmlCheck { is_error_page: false, message: None });
        assert!(!check(200, Some("text/html"), "{not json").is_error_page);
    }

    #[test]
    fn declarations_and_comments_are_skipped_repeatedly() {
        let page = "<?xml version=\"1.0\"?>\n<?xml-stylesheet href=\"a.css\"?><!-- a --> <!--b-->\n<HTML lang=en>";
        assert_eq!(message(200, None, page), Some("Provider returned an HTML error page (HTTP 200)".into()));
        assert!(!check(200, None, "<!-- never closed <html>").is_error_page);
        assert!(!check(200, None, "<?xml version=\"1.0\" <html>").is_error_page);
        // `<!-->` does not close itself: the search for `-->` starts after `<!--`.
        assert!(!check(200, None, "<!--><html>").is_error_page);
        assert!(check(200, None, "<!---->\n<html>").is_error_page);
    }

    #[test]
    fn tag_names_need_a_boundary() {
        for body in ["<html", "<html>", "<html/>", "<HEAD\n>", "<body class=x>", "<title>", "<!DOCTYPE HTML>", "<!doctype\n\thtml>"] {
            assert!(check(200, None, body).is_error_page, "{body:?}");
        }
        for body in ["<htmlfoo>", "<header>", "<bodyx>", "<titles>", "<!doctypehtml>", "<!doctype html5>", "<div>", "<?xml?><svg/>"] {
            assert!(!check(200, None, body).is_error_page, "{body:?}");
        }
    }

    #[test]
    fn media_type_is_trimmed_and_lowercased() {
        assert!(check(200, Some(" Text/HTML ; charset=utf-8"), "x").is_error_page);
        assert!(check(200, Some("APPLICATION/XHTML+XML"), "x").is_error_page);
        assert!(!check(200, Some("text/html-ish"), "x").is_error_page);
        assert!(!check(200, Some("text/plain; note=text/html"), "x").is_error_page);
        assert!(!check(200, Some(""), "x").is_error_page);
    }

    #[test]
    fn status_decides_the_rest() {
        assert_eq!(check(399, Some("text/plain"), "access_token=x&scope="), HtmlCheck { is_error_page: false, message: None });
        assert_eq!(message(400, Some("text/plain"), "Bad Request"), Some("Provider returned a non-JSON error response (HTTP 400)".into()));
        // A title counts for a non-HTML error answer too.
        assert_eq!(message(502, Some("text/plain"), "oops <title>Bad Gateway</title>"), Some("Bad Gateway".into()));
    }

    #[test]
    fn title_tags() {
        assert_eq!(page_title("<title data-x=\"1\">A</title>").as_deref(), Some("A"));
        assert_eq!(page_title("<titles>no</titles><TITLE>Yes</Title >").as_deref(), Some("Yes"));
        assert_eq!(page_title("<title/>Self</title>").as_deref(), Some("Self"));
        assert_eq!(page_title("<title>A</titles> B</title>").as_deref(), Some("A</titles> B"));
        assert_eq!(page_title("<title>cut</title").as_deref(), None);
        assert_eq!(page_title("<title>cut</title/").as_deref(), Some("cut"));
        assert_eq!(page_title("<title lang=\"en\"").as_deref(), None);
        assert_eq!(page_title("<title>  \n&nbsp; </title>").as_deref(), None);
        assert_eq!(page_title("<title>first</title><title>second</title>").as_deref(), Some("first"));
    }

    #[test]
    fn entities() {
        let decode = |raw: &str| page_title(&format!("<title>{raw}</title>")).unwrap_or_default();
        assert_eq!(decode("a &amp;amp; b &lt;c&gt; &quot;d&quot; &#39;e&apos;"), "a &amp; b <c> \"d\" 'e'");
        assert_eq!(decode("&#65;&#x42;&#X43;&#0000068;"), "ABCD");
        assert_eq!(decode("&copy; &AMP; &amp &#65 &#; &#x; &#xZ;"), "&copy; &AMP; &amp &#65 &#; &#x; &#xZ;");
        assert_eq!(decode("&#0; &#xD800; &#x110000; &#99999999999999999999;"), "&#0; &#xD800; &#x110000; &#99999999999999999999;");
        assert_eq!(decode("&#x1F600;&#10;&#x10FFFF;"), "\u{1F600} \u{10FFFF}");
        assert_eq!(decode("a&nbsp;&nbsp;b&#160;c\u{A0}d"), "a b c d");
        assert_eq!(decode("&"), "&");
        assert_eq!(decode("é&amp;"), "é&");
    }

    #[test]
    fn long_titles_are_cut_by_scalar_values() {
        let exact = "é".repeat(TITLE_LIMIT);
        assert_eq!(page_title(&format!("<title>{exact}</title>")), Some(exact.clone()));
        let long = format!("{exact}\u{1F600}xyz");
        let title = page_title(&format!("<title>{long}</title>")).unwrap_or_default();
        assert_eq!(title, format!("{exact}…"));
        assert_eq!(title.chars().count(), TITLE_LIMIT + 1);
        // The cut happens after collapsing, and a space at the cut stays.
        let spaced = format!("{}  \n  tail", "x".repeat(TITLE_LIMIT - 1));
        assert_eq!(page_title(&format!("<title>{spaced}</title>")), Some(format!("{} …", "x".repeat(TITLE_LIMIT - 1))));
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let body = b"<title>Caf\xE9 \xF0\x9F\x98 down</title>";
        assert_eq!(check_html_response(503, None, body).message.as_deref(), Some("Caf\u{FFFD} \u{FFFD} down"));
    }
}
