//! The narrative's XHTML: well-formed XML (InvalidFormat otherwise), only the elements and
//! attributes R4 allows (txt-1), and some content (txt-2).
//!
//! The lists are those of txt-1's XPath in the R4 Narrative StructureDefinition, plus the
//! `xml:lang`/`xml:space` attributes and namespace declarations, which XPath does not see as
//! attributes. Beyond R4, `javascript:` URLs in `href`/`src` are refused as txt-1: the
//! narrative may be shown in a browser.

use crate::error::RecordError;
use crate::validate::path::Path;

/// txt-1: the elements allowed (local names).
const ELEMENTS: [&str; 48] = [
    "a",
    "abbr",
    "acronym",
    "b",
    "big",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "ul",
    "var",
];

/// txt-1: the attributes allowed.
const ATTRIBUTES: [&str; 51] = [
    "abbr",
    "accesskey",
    "align",
    "alt",
    "axis",
    "bgcolor",
    "border",
    "cellhalign",
    "cellpadding",
    "cellspacing",
    "cellvalign",
    "char",
    "charoff",
    "charset",
    "cite",
    "class",
    "colspan",
    "compact",
    "coords",
    "dir",
    "frame",
    "headers",
    "height",
    "href",
    "hreflang",
    "hspace",
    "id",
    "lang",
    "longdesc",
    "name",
    "nowrap",
    "rel",
    "rev",
    "rowspan",
    "rules",
    "scope",
    "shape",
    "span",
    "src",
    "start",
    "style",
    "summary",
    "tabindex",
    "title",
    "type",
    "valign",
    "value",
    "vspace",
    "width",
    "xml:lang",
    "xml:space",
];

const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";

/// What is wrong with a narrative.
enum Problem {
    Malformed,
    Disallowed,
    Empty,
}

/// Checks the narrative `div`.
pub(crate) fn check(div: &str, path: &Path<'_>) -> Result<(), RecordError> {
    match scan(div) {
        Ok(()) => Ok(()),
        Err(Problem::Malformed) => Err(RecordError::InvalidFormat {
            path: path.render(),
            datatype: "xhtml",
            expected: "well-formed XHTML: one <div> element in the XHTML namespace, tags \
                       closed in order, attribute values quoted, `<` and `&` escaped",
        }),
        Err(Problem::Disallowed) => Err(RecordError::ConstraintViolated {
            path: path.render(),
            key: "txt-1",
            message: "the narrative may hold only basic HTML formatting: no scripts, forms, \
                      frames, objects, event attributes or javascript: links",
        }),
        Err(Problem::Empty) => Err(RecordError::ConstraintViolated {
            path: path.render(),
            key: "txt-2",
            message: "the narrative must have some non-whitespace content (text or an image)",
        }),
    }
}

fn scan(s: &str) -> Result<(), Problem> {
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut stack: Vec<&str> = Vec::new();
    let mut roots = 0;
    let mut content = false;
    let mut disallowed = false;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            let end = s[i..].find('<').map_or(s.len(), |n| i + n);
            let text = &s[i..end];
            if stack.is_empty() {
                if !text.trim().is_empty() {
                    return Err(Problem::Malformed);
                }
            } else {
                check_entities(text)?;
                content |= !text.trim().is_empty();
            }
            i = end;
            continue;
        }
        let rest = &s[i..];
        if let Some(body) = rest.strip_prefix("<!--") {
            i += 4 + body.find("-->").ok_or(Problem::Malformed)? + 3;
        } else if let Some(body) = rest.strip_prefix("<![CDATA[") {
            let n = body.find("]]>").ok_or(Problem::Malformed)?;
            if stack.is_empty() {
                return Err(Problem::Malformed);
            }
            content |= !body[..n].trim().is_empty();
            i += 9 + n + 3;
        } else if let Some(body) = rest.strip_prefix("<?") {
            i += 2 + body.find("?>").ok_or(Problem::Malformed)? + 2;
        } else if let Some(body) = rest.strip_prefix("</") {
            let n = body.find('>').ok_or(Problem::Malformed)?;
            let name = body[..n].trim_end();
            if stack.pop() != Some(name) {
                return Err(Problem::Malformed);
            }
            i += 2 + n + 1;
        } else {
            let tag = parse_tag(&rest[1..])?;
            if stack.is_empty() {
                roots += 1;
                if roots > 1 || local_name(tag.name) != "div" || !tag.declares_xhtml {
                    return Err(Problem::Malformed);
                }
            }
            disallowed |= !ELEMENTS.contains(&local_name(tag.name)) || tag.disallowed;
            content |= local_name(tag.name) == "img" && tag.has_src;
            if !tag.self_closing {
                stack.push(tag.name);
            }
            i += 1 + tag.len;
        }
    }
    if !stack.is_empty() || roots != 1 {
        return Err(Problem::Malformed);
    }
    if disallowed {
        return Err(Problem::Disallowed);
    }
    if !content {
        return Err(Problem::Empty);
    }
    Ok(())
}

fn local_name(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

struct Tag<'a> {
    name: &'a str,
    /// Bytes from after `<` to after `>`.
    len: usize,
    self_closing: bool,
    declares_xhtml: bool,
    disallowed: bool,
    has_src: bool,
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.') || b >= 0x80
}

/// Parses a start tag from after its `<`.
fn parse_tag(s: &str) -> Result<Tag<'_>, Problem> {
    let bytes = s.as_bytes();
    let name_len = bytes.iter().take_while(|&&b| is_name_byte(b)).count();
    if name_len == 0 || !bytes[0].is_ascii_alphabetic() {
        return Err(Problem::Malformed);
    }
    let name = &s[..name_len];
    let prefix = name.rsplit_once(':').map(|(p, _)| p);
    let mut tag = Tag {
        name,
        len: 0,
        self_closing: false,
        declares_xhtml: false,
        disallowed: false,
        has_src: false,
    };
    let mut seen: Vec<&str> = Vec::new();
    let mut i = name_len;
    loop {
        let ws = bytes[i..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        i += ws;
        match bytes.get(i) {
            None => return Err(Problem::Malformed),
            Some(b'>') => {
                tag.len = i + 1;
                return Ok(tag);
            }
            Some(b'/') if bytes.get(i + 1) == Some(&b'>') => {
                tag.self_closing = true;
                tag.len = i + 2;
                return Ok(tag);
            }
            Some(_) if ws == 0 => return Err(Problem::Malformed),
            Some(_) => {}
        }
        let attr_len = bytes[i..].iter().take_while(|&&b| is_name_byte(b)).count();
        if attr_len == 0 {
            return Err(Problem::Malformed);
        }
        let attr = &s[i..i + attr_len];
        i += attr_len;
        i += bytes[i..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        if bytes.get(i) != Some(&b'=') {
            return Err(Problem::Malformed);
        }
        i += 1;
        i += bytes[i..].iter().take_while(|b| b.is_ascii_whitespace()).count();
        let quote = *bytes.get(i).ok_or(Problem::Malformed)?;
        if quote != b'"' && quote != b'\'' {
            return Err(Problem::Malformed);
        }
        let value_len = s[i + 1..].find(char::from(quote)).ok_or(Problem::Malformed)?;
        let value = &s[i + 1..i + 1 + value_len];
        if value.contains('<') {
            return Err(Problem::Malformed);
        }
        check_entities(value)?;
        i += 1 + value_len + 1;
        if seen.contains(&attr) {
            return Err(Problem::Malformed);
        }
        seen.push(attr);
        let declares = match prefix {
            None => attr == "xmlns",
            Some(p) => attr.strip_prefix("xmlns:") == Some(p),
        };
        tag.declares_xhtml |= declares && value == XHTML_NS;
        let namespace_decl = attr == "xmlns" || attr.starts_with("xmlns:");
        tag.disallowed |= !namespace_decl && !ATTRIBUTES.contains(&attr);
        if matches!(attr, "href" | "src") {
            let scheme: String =
                value.trim_start().chars().take(11).collect::<String>().to_ascii_lowercase();
            tag.disallowed |= scheme.starts_with("javascript:");
        }
        tag.has_src |= attr == "src" && !value.trim().is_empty();
    }
}

/// Every `&` starts an entity or character reference ending in `;`.
fn check_entities(text: &str) -> Result<(), Problem> {
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        let after = &rest[at + 1..];
        let end = after.find(';').ok_or(Problem::Malformed)?;
        let name = &after[..end];
        let ok = match name.strip_prefix('#') {
            Some(hex) if hex.starts_with(['x', 'X']) => {
                hex.len() > 1 && hex[1..].bytes().all(|b| b.is_ascii_hexdigit())
            }
            Some(dec) => !dec.is_empty() && dec.bytes().all(|b| b.is_ascii_digit()),
            None => !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()),
        };
        if !ok {
            return Err(Problem::Malformed);
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(div: &str) -> Option<&'static str> {
        match scan(div) {
            Ok(()) => None,
            Err(Problem::Malformed) => Some("malformed"),
            Err(Problem::Disallowed) => Some("txt-1"),
            Err(Problem::Empty) => Some("txt-2"),
        }
    }

    const NS: &str = r#"xmlns="http://www.w3.org/1999/xhtml""#;

    #[test]
    fn narratives() {
        let div = |inner: &str| format!("<div {NS}>{inner}</div>");
        assert_eq!(problem(&div("<p class='x'>Hb &lt; <b>13</b>&#160;g/dL</p>")), None);
        assert_eq!(problem(&div("<table><tr><td colspan=\"2\">x</td></tr></table>")), None);
        assert_eq!(problem(&div("<img src=\"#photo\"/>")), None);
        assert_eq!(problem(&div("<!-- generated --><p>x</p>")), None);
        assert_eq!(problem(&div("<script>x()</script>")), Some("txt-1"));
        assert_eq!(problem(&div("<p onclick=\"x()\">x</p>")), Some("txt-1"));
        assert_eq!(problem(&div("<a href=\" JavaScript:x()\">x</a>")), Some("txt-1"));
        assert_eq!(problem(&div("<form>x</form>")), Some("txt-1"));
        assert_eq!(problem(&div("  <p> </p> ")), Some("txt-2"));
        assert_eq!(problem(&div("<p>x</b>")), Some("malformed"));
        assert_eq!(problem(&div("<p>a & b</p>")), Some("malformed"));
        assert_eq!(problem(&div("<p class=x>a</p>")), Some("malformed"));
        assert_eq!(problem(&div("<p a='1' a='2'>a</p>")), Some("malformed"));
        assert_eq!(problem("<div>x</div>"), Some("malformed"));
        assert_eq!(problem(&format!("{}<p>x</p>", div("x"))), Some("malformed"));
        let prefixed = "<h:div xmlns:h=\"http://www.w3.org/1999/xhtml\"><h:p>x</h:p></h:div>";
        assert_eq!(problem(prefixed), None);
    }

    proptest::proptest! {
        #[test]
        fn any_text_is_judged_without_panicking(inner in "(<|>|/|=|\"|'|&|;|#|x|p|div|a|:| |é|\\PC){0,40}") {
            let _ = scan(&format!("<div {NS}>{inner}</div>"));
            let _ = scan(&inner);
        }
    }
}
