//! Small byte-exact helpers over raw XML text: attribute spans inside a start tag, text escaping,
//! cell references, and a tokenizer that reports each event's byte range.
//!
//! The write-back never re-serialises XML it did not change: it finds byte ranges with
//! quick-xml and splices replacement text into them, so everything around stays as it was.

use quick_xml::events::Event;
use quick_xml::reader::Reader;
use std::ops::Range;

/// One attribute inside a raw start tag: byte ranges relative to the tag text.
#[derive(Debug, Clone)]
pub(super) struct RawAttr {
    /// The whole `name="value"` (no leading whitespace).
    pub whole: Range<usize>,
    pub name: Range<usize>,
    /// The value between the quotes, still escaped.
    pub value: Range<usize>,
}

/// The attributes of a raw start tag such as `<c r="E9" s="16"/>`, in document order.
///
/// The tag comes from quick-xml, so it is well-formed; anything odd simply ends the scan.
pub(super) fn raw_attrs(tag: &str) -> Vec<RawAttr> {
    let b = tag.as_bytes();
    let mut i = 1; // skip '<'
    while i < b.len() && !is_space(b[i]) && b[i] != b'>' && b[i] != b'/' {
        i += 1;
    }
    let mut out = Vec::new();
    loop {
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i >= b.len() || b[i] == b'>' || b[i] == b'/' {
            return out;
        }
        let start = i;
        while i < b.len() && b[i] != b'=' && !is_space(b[i]) {
            i += 1;
        }
        let name = start..i;
        while i < b.len() && (is_space(b[i]) || b[i] == b'=') {
            i += 1;
        }
        let Some(&quote) = b.get(i) else { return out };
        if quote != b'"' && quote != b'\'' {
            return out;
        }
        let vstart = i + 1;
        let Some(len) = b[vstart..].iter().position(|&c| c == quote) else {
            return out;
        };
        let vend = vstart + len;
        i = vend + 1;
        out.push(RawAttr {
            whole: start..i,
            name,
            value: vstart..vend,
        });
    }
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// The raw (escaped) value of attribute `name` in a raw start tag.
pub(super) fn attr<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    raw_attrs(tag)
        .into_iter()
        .find(|a| &tag[a.name.clone()] == name)
        .map(|a| &tag[a.value])
}

/// The raw value of the first attribute whose local name (after any `prefix:`) is `local` and
/// that carries a prefix, e.g. `r:id` whatever the relationships prefix is called.
pub(super) fn prefixed_attr<'t>(tag: &'t str, local: &str) -> Option<&'t str> {
    raw_attrs(tag)
        .into_iter()
        .find(|a| {
            let n = &tag[a.name.clone()];
            n.split_once(':')
                .is_some_and(|(p, l)| p != "xmlns" && l == local)
        })
        .map(|a| &tag[a.value])
}

/// `tag` with attribute `name` set to `value` (already escaped): replaced in place when present,
/// otherwise inserted after attribute `after` (or appended when `after` is absent).
pub(super) fn set_attr(tag: &str, name: &str, value: &str, after: Option<&str>) -> String {
    let attrs = raw_attrs(tag);
    if let Some(a) = attrs.iter().find(|a| &tag[a.name.clone()] == name) {
        return format!("{}{}{}", &tag[..a.value.start], value, &tag[a.value.end..]);
    }
    let anchor = after
        .and_then(|n| attrs.iter().find(|a| &tag[a.name.clone()] == n))
        .or(attrs.last())
        .map(|a| a.whole.end)
        .unwrap_or_else(|| name_end(tag));
    format!("{} {name}=\"{value}\"{}", &tag[..anchor], &tag[anchor..])
}

/// `tag` without attribute `name` (and the whitespace before it).
pub(super) fn remove_attr(tag: &str, name: &str) -> String {
    let Some(a) = raw_attrs(tag)
        .into_iter()
        .find(|a| &tag[a.name.clone()] == name)
    else {
        return tag.to_owned();
    };
    let mut start = a.whole.start;
    while start > 0 && is_space(tag.as_bytes()[start - 1]) {
        start -= 1;
    }
    format!("{}{}", &tag[..start], &tag[a.whole.end..])
}

/// Where the element name of a raw start tag ends.
fn name_end(tag: &str) -> usize {
    tag.as_bytes()
        .iter()
        .skip(1)
        .position(|&c| is_space(c) || c == b'>' || c == b'/')
        .map_or(tag.len(), |p| p + 1)
}

/// The element name of a raw start tag (`x:c` in `<x:c r="A1">`).
pub(super) fn tag_name(tag: &str) -> &str {
    &tag[1..name_end(tag)]
}

/// The `prefix:` of an element name, with its colon, or `""`.
pub(super) fn prefix_of(name: &str) -> &str {
    name.find(':').map_or("", |i| &name[..=i])
}

/// A self-closing raw tag `<x a="1"/>` turned into an opening tag `<x a="1">`.
pub(super) fn opening(tag: &str) -> String {
    let body = tag.strip_suffix("/>").unwrap_or(tag).trim_end();
    let body = body.strip_suffix('>').unwrap_or(body);
    format!("{body}>")
}

/// Escapes text for element content the way Excel reads it back exactly: XML's `&`, `<`, `>`,
/// a carriage return as a character reference (a bare one would be read as a newline), and
/// characters XML 1.0 cannot hold as OOXML `_xHHHH_` escapes (a literal `_xHHHH_` gets its
/// underscore escaped so it is not decoded).
pub(super) fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    let b = s.as_bytes();
    for (i, ch) in s.char_indices() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(ch),
            '_' if looks_like_ooxml_escape(&b[i..]) => out.push_str("_x005F_"),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                out.push_str(&format!("_x{:04X}_", c as u32));
            }
            c => out.push(c),
        }
    }
    out
}

fn looks_like_ooxml_escape(b: &[u8]) -> bool {
    b.len() >= 7
        && b[0] == b'_'
        && (b[1] == b'x' || b[1] == b'X')
        && b[2..6].iter().all(u8::is_ascii_hexdigit)
        && b[6] == b'_'
}

/// Decodes OOXML `_xHHHH_` escapes in cell text (the inverse of [`escape_text`] after XML
/// unescaping), so existing text compares equal to the plain text it shows.
pub(super) fn decode_ooxml_escapes(s: &str) -> String {
    if !s.contains("_x") && !s.contains("_X") {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if looks_like_ooxml_escape(&b[i..])
            && let Some(c) = std::str::from_utf8(&b[i + 2..i + 6])
                .ok()
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .and_then(char::from_u32)
        {
            out.push(c);
            i += 7;
            continue;
        }
        // `i` only ever advances by whole characters or by an ASCII escape, so it stays on a
        // char boundary.
        let ch = s[i..].chars().next().unwrap_or('\u{FFFD}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Splits an A1 reference into (1-based row, 0-based column); `None` if it is not one.
pub(super) fn parse_ref(r: &str) -> Option<(u32, u32)> {
    let split = r.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = r.split_at(split);
    if letters.is_empty() || letters.len() > 3 || !letters.bytes().all(|c| c.is_ascii_alphabetic())
    {
        return None;
    }
    let mut col: u32 = 0;
    for c in letters.bytes() {
        col = col * 26 + u32::from(c.to_ascii_uppercase() - b'A') + 1;
    }
    let row: u32 = digits.parse().ok()?;
    (row >= 1).then_some((row, col - 1))
}

/// One tokenizer step: the event and the byte range it covers in the input.
pub(super) struct Token<'a> {
    pub event: Event<'a>,
    pub span: Range<usize>,
}

/// Iterates over the events of `xml` with their byte ranges; malformed XML is an error naming
/// the offset, never a panic.
pub(super) struct Tokens<'a> {
    reader: Reader<&'a [u8]>,
}

impl<'a> Tokens<'a> {
    pub fn new(xml: &'a str) -> Self {
        let mut reader = Reader::from_str(xml);
        let config = reader.config_mut();
        config.trim_text(false);
        config.check_end_names = true;
        config.expand_empty_elements = false;
        Self { reader }
    }

    /// The next event, or `None` at the end of the document.
    pub fn next_token(&mut self) -> Result<Option<Token<'a>>, String> {
        let start = self.reader.buffer_position() as usize;
        match self.reader.read_event() {
            Ok(Event::Eof) => Ok(None),
            Ok(event) => Ok(Some(Token {
                event,
                span: start..self.reader.buffer_position() as usize,
            })),
            Err(e) => Err(format!(
                "malformed XML at byte {}: {e}",
                self.reader.error_position()
            )),
        }
    }
}

/// The local part of an element name (`c` in `x:c`).
pub(super) fn local(name: &str) -> &[u8] {
    name.rsplit_once(':').map_or(name, |(_, l)| l).as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attrs_keep_their_spans() {
        let tag = r#"<c r="E9" s='16'  t="s"/>"#;
        let a = raw_attrs(tag);
        assert_eq!(a.len(), 3);
        assert_eq!(&tag[a[1].value.clone()], "16");
        assert_eq!(attr(tag, "t"), Some("s"));
        assert_eq!(attr(tag, "x"), None);
    }

    #[test]
    fn set_attr_replaces_in_place_or_inserts() {
        assert_eq!(
            set_attr(r#"<c r="E9" s='16'/>"#, "s", "40", None),
            r#"<c r="E9" s='40'/>"#
        );
        assert_eq!(
            set_attr(r#"<c r="E9" t="s">"#, "s", "3", Some("r")),
            r#"<c r="E9" s="3" t="s">"#
        );
        assert_eq!(set_attr("<c/>", "s", "3", Some("r")), r#"<c s="3"/>"#);
        assert_eq!(remove_attr(r#"<c r="A1" t="s">"#, "t"), r#"<c r="A1">"#);
    }

    #[test]
    fn prefixed_attr_finds_any_relationship_prefix() {
        let tag = r#"<sheet name="S" sheetId="1" rel:id="rId3" xmlns:rel="x"/>"#;
        assert_eq!(prefixed_attr(tag, "id"), Some("rId3"));
    }

    #[test]
    fn opening_tag_from_self_closing() {
        assert_eq!(opening(r#"<row r="5" />"#), r#"<row r="5">"#);
        assert_eq!(opening("<sheetData/>"), "<sheetData>");
    }

    #[test]
    fn text_escaping_round_trips() {
        let s = "KH <a> & b\r\u{1}_x0041_ é";
        let e = escape_text(s);
        assert_eq!(e, "KH &lt;a&gt; &amp; b&#13;_x0001__x005F_x0041_ é");
        let unescaped = quick_xml::escape::unescape(&e).unwrap();
        assert_eq!(decode_ooxml_escapes(&unescaped), s);
    }

    #[test]
    fn refs_parse() {
        assert_eq!(parse_ref("E9"), Some((9, 4)));
        assert_eq!(parse_ref("AH878"), Some((878, 33)));
        assert_eq!(parse_ref("XFD1"), Some((1, 16383)));
        assert_eq!(parse_ref("9"), None);
        assert_eq!(parse_ref("E0"), None);
    }
}
