//! Finding the top-level elements of a DICOM Part 10 file in a byte buffer, without decoding values.
//!
//! A small hand-written walker rather than dicom-parser's lazy reader: the writer needs the exact
//! byte span of every top-level element (header start, value start, end including any delimiters),
//! the exact length-field form of each header, and a clean error instead of a guess on anything
//! odd. The walker reads only element headers and jumps over values, so locating costs far less
//! than reading the file. It handles explicit and implicit VR little endian, explicit VR big
//! endian, defined- and undefined-length sequences and items (nested, with the implicit-VR
//! encoding rule for undefined-length `UN`), and encapsulated pixel data. Anything inconsistent
//! (a value running past the end, a VR that is not two capital letters, a stray tag inside a
//! sequence) is an error: the caller reports the file, it never patches a guessed span.
//! It does not own the file meta rules beyond finding the transfer syntax, nor deflated data
//! (see `deflate.rs`).

use std::fmt;

/// Implicit VR Little Endian.
pub const TS_IMPLICIT_LE: &str = "1.2.840.10008.1.2";
/// Explicit VR Big Endian (retired, still found in old files).
pub const TS_EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
/// Deflated Explicit VR Little Endian: the one syntax the writer re-encodes.
pub const TS_DEFLATED: &str = "1.2.840.10008.1.2.1.99";
/// Media Storage Directory (a DICOMDIR): an index of other files, not an image.
pub const SOP_CLASS_DICOMDIR: &str = "1.2.840.10008.1.3.10";

/// The value length meaning "undefined; look for a delimiter".
const UNDEFINED: u32 = 0xFFFF_FFFF;
const ITEM: u32 = 0xFFFE_E000;
const ITEM_END: u32 = 0xFFFE_E00D;
const SEQUENCE_END: u32 = 0xFFFE_E0DD;
/// Deeper nesting than this is treated as a malformed file, not followed (stack safety).
const MAX_DEPTH: u32 = 64;

/// How the data set after the file meta is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    ImplicitLe,
    ExplicitLe,
    ExplicitBe,
}

impl Encoding {
    /// The encoding of a (non-deflated) transfer syntax UID; every syntax other than the two
    /// plain exceptions is explicit VR little endian (all the compressed ones are).
    pub fn of(ts: &str) -> Self {
        match ts {
            TS_IMPLICIT_LE => Self::ImplicitLe,
            TS_EXPLICIT_BE => Self::ExplicitBe,
            _ => Self::ExplicitLe,
        }
    }

    fn big(self) -> bool {
        self == Self::ExplicitBe
    }
}

/// The form of an element header's length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LenField {
    /// Explicit VR with a 2-byte length (at header offset 6).
    U16,
    /// A 4-byte length at the end of the header (implicit VR, or explicit VR OB/SQ/UN/...).
    U32,
}

/// One top-level element: where its bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element {
    /// `(group << 16) | element`.
    pub tag: u32,
    /// The VR bytes in explicit VR files; `None` in implicit VR (and for delimiters).
    pub vr: Option<[u8; 2]>,
    /// Offset of the first header byte.
    pub start: usize,
    /// Offset of the first value byte (the header is `start..value_start`).
    pub value_start: usize,
    /// Offset after the element, including items and delimiters of an undefined length.
    pub end: usize,
    /// The header's length field was `FFFFFFFF`.
    pub undefined: bool,
    pub len_field: LenField,
}

impl Element {
    /// The group number.
    pub fn group(&self) -> u16 {
        (self.tag >> 16) as u16
    }

    /// The value bytes (for an undefined length: the items and the closing delimiter).
    pub fn value<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.value_start..self.end]
    }

    /// The whole element, header included.
    pub fn bytes<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        &buf[self.start..self.end]
    }

    /// True for a sequence (VR `SQ`, or any undefined length: a sequence or encapsulated data).
    pub fn is_sequence(&self) -> bool {
        self.undefined || self.vr == Some(*b"SQ")
    }
}

/// Why a buffer could not be walked. Offsets only, never values (no PHI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocateError {
    /// No `DICM` marker at byte 128.
    NotDicom,
    /// The data ends inside an element.
    Truncated { at: usize },
    /// The bytes do not form a valid element here.
    Malformed { at: usize, what: &'static str },
    /// The file meta has no Transfer Syntax UID (0002,0010).
    NoTransferSyntax,
    /// A header lies past the bytes read so far (not past the file): read more and walk again.
    NeedMore { at: usize },
}

impl fmt::Display for LocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotDicom => write!(f, "not DICOM (no `DICM` marker at byte 128)"),
            Self::Truncated { at } => {
                write!(f, "truncated (data ends inside the element at byte {at})")
            }
            Self::Malformed { at, what } => write!(f, "unreadable: {what} at byte {at}"),
            Self::NeedMore { at } => write!(f, "needs the bytes from {at} on"),
            Self::NoTransferSyntax => {
                write!(
                    f,
                    "unreadable: the file meta has no transfer syntax (0002,0010)"
                )
            }
        }
    }
}

impl std::error::Error for LocateError {}

/// What the file meta says, and where the data set starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta<'a> {
    /// Transfer Syntax UID, padding removed.
    pub transfer_syntax: &'a str,
    /// Media Storage SOP Class UID, padding removed (empty when absent).
    pub sop_class: &'a str,
    /// Offset of the first data set element.
    pub dataset_start: usize,
}

/// Reads the preamble marker and the file meta group (always explicit VR little endian).
pub fn meta(buf: &[u8]) -> Result<Meta<'_>, LocateError> {
    if buf.len() < 132 || &buf[128..132] != b"DICM" {
        return Err(LocateError::NotDicom);
    }
    let b = Bytes {
        buf,
        len: buf.len(),
    };
    let mut pos = 132;
    let mut ts = None;
    let mut sop_class = "";
    // Where (0002,0000) FileMetaInformationGroupLength says the group ends. A deflated data set
    // may begin with the bytes `02 00`, which a scan by group number alone takes for more meta.
    let mut declared_end = None;
    while pos + 2 <= buf.len() && b.u16(pos, false)? == 0x0002 && declared_end != Some(pos) {
        let h = header(b, pos, Encoding::ExplicitLe)?;
        if h.len == UNDEFINED {
            return Err(LocateError::Malformed {
                at: pos,
                what: "undefined length in the file meta",
            });
        }
        let end = b.end(h.value_start, h.len)?;
        let text = || trim_uid(&buf[h.value_start..end]);
        match h.tag {
            0x0002_0000 if end - h.value_start == 4 => {
                declared_end = Some(end + b.u32(h.value_start, false)? as usize);
            }
            0x0002_0010 => ts = Some(text()),
            0x0002_0002 => sop_class = text(),
            _ => {}
        }
        pos = end;
    }
    let transfer_syntax = ts.ok_or(LocateError::NoTransferSyntax)?;
    Ok(Meta {
        transfer_syntax,
        sop_class,
        dataset_start: pos,
    })
}

/// How a walk ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walked {
    /// Every top-level element up to the end of the buffer.
    Complete,
    /// Stopped at the first top-level tag above the `stop_after` tag (not included).
    Stopped,
}

/// Appends the top-level elements from `start` to `out`, in file order.
///
/// With `stop_after`, the walk ends at the first top-level tag greater than it (used to read
/// PatientID without walking the pixel data). Stray sequence/item delimiters at the top level
/// (some writers leave them) are kept as 8-byte elements so the output copies them unchanged.
pub fn top_level(
    buf: &[u8],
    start: usize,
    enc: Encoding,
    stop_after: Option<u32>,
    out: &mut Vec<Element>,
) -> Result<Walked, LocateError> {
    top_level_within(buf, buf.len(), start, enc, stop_after, out)
}

/// [`top_level`] over the first bytes of a file of `file_len` bytes: values may lie past the
/// prefix (they are only jumped over); a header past it is `NeedMore`. This lets the writer
/// read a file's header and have the kernel copy the pixel data.
pub fn top_level_within(
    buf: &[u8],
    file_len: usize,
    start: usize,
    enc: Encoding,
    stop_after: Option<u32>,
    out: &mut Vec<Element>,
) -> Result<Walked, LocateError> {
    let b = Bytes {
        buf,
        len: file_len.max(buf.len()),
    };
    let mut pos = start;
    while pos < b.len {
        let h = header(b, pos, enc)?;
        if stop_after.is_some_and(|stop| h.tag > stop) {
            return Ok(Walked::Stopped);
        }
        let end = if h.tag >> 16 == 0xFFFE {
            if h.tag == ITEM || h.len != 0 {
                return Err(LocateError::Malformed {
                    at: pos,
                    what: "an item outside any sequence",
                });
            }
            h.value_start
        } else {
            skip_value(b, &h, enc, 0)?
        };
        out.push(Element {
            tag: h.tag,
            vr: h.vr,
            start: pos,
            value_start: h.value_start,
            end,
            undefined: h.len == UNDEFINED,
            len_field: h.len_field,
        });
        pos = end;
    }
    Ok(Walked::Complete)
}

/// What a node of the tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A data element (a sequence, or a leaf whose value is not walked).
    Element,
    /// A sequence item `(FFFE,E000)`.
    Item,
    /// An item or sequence delimiter, or a stray top-level delimiter.
    Delimiter,
}

/// One node of the whole data set: an element, an item or a delimiter, at any depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Node {
    pub kind: Kind,
    /// `(group << 16) | element`.
    pub tag: u32,
    /// The VR bytes of an explicit VR element; `None` in implicit VR, for items and delimiters.
    pub vr: Option<[u8; 2]>,
    pub start: usize,
    pub value_start: usize,
    /// After the node, including the items and delimiter of an undefined length.
    pub end: usize,
    pub undefined: bool,
    pub len_field: LenField,
    /// The enclosing item (for an element) or sequence element (for an item); `None` at the
    /// top level.
    pub parent: Option<u32>,
    /// The node's header is big endian (explicit VR big endian outside any `UN` sequence).
    pub big: bool,
    /// The node's header is implicit VR (an implicit VR file, or inside an undefined-length UN).
    pub implicit: bool,
    /// The walk went into this element's items (a sequence).
    pub walked: bool,
}

impl Node {
    /// The group number.
    pub fn group(&self) -> u16 {
        (self.tag >> 16) as u16
    }

    /// Where the length field is: `(offset, 2 or 4 bytes)`.
    pub fn len_at(&self) -> (usize, usize) {
        match (self.kind, self.len_field) {
            (Kind::Element, LenField::U16) => (self.start + 6, 2),
            (Kind::Element, LenField::U32) => (self.value_start - 4, 4),
            _ => (self.start + 4, 4),
        }
    }
}

/// Walks the whole data set from `start` (every element, item and delimiter, at every depth,
/// in file order) into `out`, without recursion: nesting deeper than 64 sequences is an error.
///
/// Sequences are walked: VR `SQ`, any undefined length except encapsulated pixel data and
/// other undefined-length binary values (whose fragments are skipped), and, in implicit VR, a
/// defined-length value that opens with an item tag. An undefined-length `UN` is walked as
/// implicit VR little endian (PS3.5 6.2.2). Values of leaf elements are jumped over, so they
/// may lie past the prefix `buf` of a file of `file_len` bytes; a header past it is `NeedMore`.
/// Every node costs at least 8 bytes of input, so the output is bounded by the bytes present.
pub fn tree_within(
    buf: &[u8],
    file_len: usize,
    start: usize,
    enc: Encoding,
    out: &mut Vec<Node>,
) -> Result<(), LocateError> {
    let b = Bytes {
        buf,
        len: file_len.max(buf.len()),
    };
    out.clear();
    // Open containers: (node index, defined end, encoding inside, is a sequence).
    let mut stack: Vec<(u32, Option<usize>, Encoding, bool)> = Vec::new();
    let mut pos = start;
    loop {
        let (parent, end, inner, in_seq) = match stack.last() {
            None => (None, Some(b.len), enc, false),
            Some(&(i, end, e, s)) => (Some(i), end, e, s),
        };
        if let Some(end) = end {
            if pos == end {
                match stack.pop() {
                    None => return Ok(()),
                    Some(_) => continue,
                }
            }
            if pos > end {
                return Err(LocateError::Malformed {
                    at: pos,
                    what: "an element runs past the end of its item or sequence",
                });
            }
        }
        let h = header(b, pos, inner)?;
        let node = |kind, end, undefined| Node {
            kind,
            tag: h.tag,
            vr: h.vr,
            start: pos,
            value_start: h.value_start,
            end,
            undefined,
            len_field: h.len_field,
            parent,
            big: inner.big(),
            implicit: inner == Encoding::ImplicitLe,
            walked: false,
        };
        let undefined = h.len == UNDEFINED;
        let idx = u32::try_from(out.len()).map_err(|_| LocateError::Malformed {
            at: pos,
            what: "too many elements",
        })?;
        if in_seq {
            match h.tag {
                SEQUENCE_END if end.is_none() => {
                    out.push(node(Kind::Delimiter, h.value_start, false));
                    pos = h.value_start;
                    close(out, &mut stack, pos);
                }
                ITEM => {
                    let item_end = if undefined {
                        None
                    } else {
                        Some(b.end(h.value_start, h.len)?)
                    };
                    out.push(node(
                        Kind::Item,
                        item_end.unwrap_or(h.value_start),
                        undefined,
                    ));
                    push(&mut stack, idx, item_end, inner, false, pos)?;
                    pos = h.value_start;
                }
                _ => {
                    return Err(LocateError::Malformed {
                        at: pos,
                        what: "an element where a sequence item was expected",
                    });
                }
            }
            continue;
        }
        if h.tag >> 16 == 0xFFFE {
            if h.tag == ITEM_END && parent.is_some() && end.is_none() {
                out.push(node(Kind::Delimiter, h.value_start, false));
                pos = h.value_start;
                close(out, &mut stack, pos);
                continue;
            }
            if parent.is_none() && h.tag != ITEM && h.len == 0 {
                out.push(node(Kind::Delimiter, h.value_start, false));
                pos = h.value_start;
                continue;
            }
            return Err(LocateError::Malformed {
                at: pos,
                what: "an item or delimiter out of place",
            });
        }
        let walk = if undefined {
            h.tag != 0x7FE0_0010 && (h.vr.is_none() || h.vr == Some(*b"SQ") || h.vr == Some(*b"UN"))
        } else {
            h.vr == Some(*b"SQ")
                || (h.vr.is_none() && h.len >= 8 && item_tag_at(b, h.value_start, inner.big()))
        };
        if walk {
            let seq_inner = if h.vr == Some(*b"UN") {
                Encoding::ImplicitLe
            } else {
                inner
            };
            let seq_end = if undefined {
                None
            } else {
                Some(b.end(h.value_start, h.len)?)
            };
            let mut n = node(Kind::Element, seq_end.unwrap_or(h.value_start), undefined);
            n.walked = true;
            out.push(n);
            push(&mut stack, idx, seq_end, seq_inner, true, pos)?;
            pos = h.value_start;
        } else {
            let e = skip_value(b, &h, inner, 0)?;
            out.push(node(Kind::Element, e, undefined));
            pos = e;
        }
    }
}

/// True when the bytes at `pos` (if read) are an item tag.
fn item_tag_at(b: Bytes<'_>, pos: usize, big: bool) -> bool {
    let (Ok(g), Ok(e)) = (b.u16(pos, big), b.u16(pos + 2, big)) else {
        return false;
    };
    (u32::from(g) << 16 | u32::from(e)) == ITEM
}

/// Opens a container, refusing nesting deeper than [`MAX_DEPTH`] sequences.
fn push(
    stack: &mut Vec<(u32, Option<usize>, Encoding, bool)>,
    idx: u32,
    end: Option<usize>,
    enc: Encoding,
    is_seq: bool,
    at: usize,
) -> Result<(), LocateError> {
    if stack.len() >= 2 * MAX_DEPTH as usize {
        return Err(LocateError::Malformed {
            at,
            what: "sequences nested too deeply",
        });
    }
    stack.push((idx, end, enc, is_seq));
    Ok(())
}

/// Closes the undefined-length container on top of the stack at its delimiter's end.
fn close(out: &mut [Node], stack: &mut Vec<(u32, Option<usize>, Encoding, bool)>, end: usize) {
    if let Some((i, _, _, _)) = stack.pop() {
        out[i as usize].end = end;
    }
}

/// The bytes read so far of a file of `len` bytes (`buf` is a prefix of it, or all of it).
#[derive(Clone, Copy)]
struct Bytes<'a> {
    buf: &'a [u8],
    len: usize,
}

impl Bytes<'_> {
    /// The `N` bytes at `pos`: `Truncated` past the file's end, `NeedMore` past the prefix.
    fn get<const N: usize>(&self, pos: usize) -> Result<[u8; N], LocateError> {
        if pos.saturating_add(N) > self.len {
            return Err(LocateError::Truncated { at: pos });
        }
        self.buf
            .get(pos..pos + N)
            .and_then(|s| s.try_into().ok())
            .ok_or(LocateError::NeedMore { at: pos })
    }

    fn u16(&self, pos: usize, big: bool) -> Result<u16, LocateError> {
        let b = self.get::<2>(pos)?;
        Ok(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&self, pos: usize, big: bool) -> Result<u32, LocateError> {
        let b = self.get::<4>(pos)?;
        Ok(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// `start + len`, or `Truncated` if that runs past the file.
    fn end(&self, start: usize, len: u32) -> Result<usize, LocateError> {
        let end = start.saturating_add(len as usize);
        if end > self.len {
            return Err(LocateError::Truncated { at: start });
        }
        Ok(end)
    }
}

/// A parsed element header.
struct Header {
    tag: u32,
    vr: Option<[u8; 2]>,
    value_start: usize,
    len: u32,
    len_field: LenField,
}

/// Reads the element header at `pos`: from one 12-byte slice when the prefix holds that many
/// bytes (every read then succeeds), else byte range by byte range ([`header_checked`]).
fn header(b: Bytes<'_>, pos: usize, enc: Encoding) -> Result<Header, LocateError> {
    let Some(raw) = pos
        .checked_add(12)
        .and_then(|e| b.buf.get(pos..e))
        .and_then(|r| <&[u8; 12]>::try_from(r).ok())
    else {
        return header_checked(b, pos, enc);
    };
    let big = enc.big();
    let u16_at = |i: usize| {
        let x = [raw[i], raw[i + 1]];
        if big {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        }
    };
    let u32_at = |i: usize| {
        let x = [raw[i], raw[i + 1], raw[i + 2], raw[i + 3]];
        if big {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    };
    let tag = (u32::from(u16_at(0)) << 16) | u32::from(u16_at(2));
    if enc == Encoding::ImplicitLe || tag >> 16 == 0xFFFE {
        return Ok(Header {
            tag,
            vr: None,
            value_start: pos + 8,
            len: u32_at(4),
            len_field: LenField::U32,
        });
    }
    let vr = [raw[4], raw[5]];
    if !KNOWN_VRS.contains(&vr) {
        return Err(LocateError::Malformed {
            at: pos,
            what: "not a valid VR",
        });
    }
    if LONG_VRS.contains(&vr) {
        Ok(Header {
            tag,
            vr: Some(vr),
            value_start: pos + 12,
            len: u32_at(8),
            len_field: LenField::U32,
        })
    } else {
        Ok(Header {
            tag,
            vr: Some(vr),
            value_start: pos + 8,
            len: u32::from(u16_at(6)),
            len_field: LenField::U16,
        })
    }
}

/// [`header`] near the end of the bytes read: each field bounds-checked on its own.
fn header_checked(b: Bytes<'_>, pos: usize, enc: Encoding) -> Result<Header, LocateError> {
    let big = enc.big();
    let tag = (u32::from(b.u16(pos, big)?) << 16) | u32::from(b.u16(pos + 2, big)?);
    // Items and delimiters carry no VR, whatever the encoding.
    if enc == Encoding::ImplicitLe || tag >> 16 == 0xFFFE {
        return Ok(Header {
            tag,
            vr: None,
            value_start: pos + 8,
            len: b.u32(pos + 4, big)?,
            len_field: LenField::U32,
        });
    }
    let vr: [u8; 2] = b.get::<2>(pos + 4)?;
    if !KNOWN_VRS.contains(&vr) {
        return Err(LocateError::Malformed {
            at: pos,
            what: "not a valid VR",
        });
    }
    if LONG_VRS.contains(&vr) {
        Ok(Header {
            tag,
            vr: Some(vr),
            value_start: pos + 12,
            len: b.u32(pos + 8, big)?,
            len_field: LenField::U32,
        })
    } else {
        Ok(Header {
            tag,
            vr: Some(vr),
            value_start: pos + 8,
            len: u32::from(b.u16(pos + 6, big)?),
            len_field: LenField::U16,
        })
    }
}

/// Skips an element's value; returns the offset after it (after delimiters if undefined).
fn skip_value(b: Bytes<'_>, h: &Header, enc: Encoding, depth: u32) -> Result<usize, LocateError> {
    if h.len != UNDEFINED {
        return b.end(h.value_start, h.len);
    }
    if depth >= MAX_DEPTH {
        return Err(LocateError::Malformed {
            at: h.value_start,
            what: "sequences nested too deeply",
        });
    }
    // PS3.5 6.2.2: an undefined-length UN holds a sequence encoded as implicit VR little endian.
    let inner = if h.vr == Some(*b"UN") {
        Encoding::ImplicitLe
    } else {
        enc
    };
    let mut pos = h.value_start;
    loop {
        let item = header(b, pos, inner)?;
        match item.tag {
            SEQUENCE_END => return Ok(item.value_start),
            ITEM if item.len == UNDEFINED => {
                pos = skip_item_elements(b, item.value_start, inner, depth + 1)?
            }
            ITEM => pos = b.end(item.value_start, item.len)?,
            _ => {
                return Err(LocateError::Malformed {
                    at: pos,
                    what: "an element where a sequence item was expected",
                });
            }
        }
    }
}

/// Skips the elements of an undefined-length item; returns the offset after its delimiter.
fn skip_item_elements(
    b: Bytes<'_>,
    mut pos: usize,
    enc: Encoding,
    depth: u32,
) -> Result<usize, LocateError> {
    loop {
        let h = header(b, pos, enc)?;
        match h.tag {
            ITEM_END => return Ok(h.value_start),
            SEQUENCE_END | ITEM => {
                return Err(LocateError::Malformed {
                    at: pos,
                    what: "a sequence delimiter inside an item",
                });
            }
            _ => pos = skip_value(b, &h, enc, depth)?,
        }
    }
}

/// A UID's text without its NUL or space padding (non-UTF-8 becomes empty: no valid UID).
fn trim_uid(b: &[u8]) -> &str {
    std::str::from_utf8(b)
        .unwrap_or("")
        .trim_end_matches(['\0', ' '])
        .trim_start()
}

/// VRs whose explicit header has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2).
const LONG_VRS: [[u8; 2]; 13] = [
    *b"OB", *b"OD", *b"OF", *b"OL", *b"OV", *b"OW", *b"SQ", *b"SV", *b"UC", *b"UN", *b"UR", *b"UT",
    *b"UV",
];

/// Every VR of PS3.5 6.2: anything else in an explicit VR header means the walk is off track.
const KNOWN_VRS: [[u8; 2]; 34] = [
    *b"AE", *b"AS", *b"AT", *b"CS", *b"DA", *b"DS", *b"DT", *b"FD", *b"FL", *b"IS", *b"LO", *b"LT",
    *b"OB", *b"OD", *b"OF", *b"OL", *b"OV", *b"OW", *b"PN", *b"SH", *b"SL", *b"SQ", *b"SS", *b"ST",
    *b"SV", *b"TM", *b"UC", *b"UI", *b"UL", *b"UN", *b"UR", *b"US", *b"UT", *b"UV",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal Part 10 buffer: preamble, a meta group with the transfer syntax, then `body`.
    pub(crate) fn part10(ts: &str, body: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 128];
        v.extend_from_slice(b"DICM");
        let mut uid = ts.as_bytes().to_vec();
        if uid.len() % 2 == 1 {
            uid.push(0);
        }
        v.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        v.extend_from_slice(&(uid.len() as u16).to_le_bytes());
        v.extend_from_slice(&uid);
        v.extend_from_slice(body);
        v
    }

    fn explicit(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&tag.0.to_le_bytes());
        v.extend_from_slice(&tag.1.to_le_bytes());
        v.extend_from_slice(vr);
        if LONG_VRS.contains(vr) {
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        } else {
            v.extend_from_slice(&(value.len() as u16).to_le_bytes());
        }
        v.extend_from_slice(value);
        v
    }

    fn tags(buf: &[u8]) -> Result<Vec<u32>, LocateError> {
        let m = meta(buf)?;
        let mut out = Vec::new();
        top_level(
            buf,
            m.dataset_start,
            Encoding::of(m.transfer_syntax),
            None,
            &mut out,
        )?;
        Ok(out.iter().map(|e| e.tag).collect())
    }

    #[test]
    fn header_reads_as_header_checked_does() {
        let flat = |r: Result<Header, LocateError>| {
            r.map(|h| (h.tag, h.vr, h.value_start, h.len, h.len_field))
        };
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for round in 0..20_000u32 {
            let mut buf = [0u8; 20];
            for byte in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *byte = x as u8;
            }
            if round % 2 == 0 {
                // A real VR (short or long), an item tag now and then.
                let vr = KNOWN_VRS[(x >> 8) as usize % KNOWN_VRS.len()];
                buf[4..6].copy_from_slice(&vr);
                buf[10..12].copy_from_slice(&vr);
                if round % 6 == 0 {
                    buf[0..2].copy_from_slice(&[0xFE, 0xFF]);
                    buf[6..8].copy_from_slice(&[0xFE, 0xFF]);
                }
            }
            let n = (x >> 16) as usize % 21;
            let len = n + (x >> 24) as usize % 3;
            let b = Bytes {
                buf: &buf[..n],
                len,
            };
            for pos in [0, 2, 6, 8] {
                for enc in [
                    Encoding::ImplicitLe,
                    Encoding::ExplicitLe,
                    Encoding::ExplicitBe,
                ] {
                    assert_eq!(
                        flat(header(b, pos, enc)),
                        flat(header_checked(b, pos, enc)),
                        "{buf:?} {n} {len} {pos} {enc:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn walks_explicit_elements_and_undefined_sequences() {
        let mut body = explicit((0x0008, 0x0020), b"DA", b"20200101");
        // (0008,1140) SQ, undefined length, one undefined-length item holding one element.
        body.extend_from_slice(&[
            0x08, 0x00, 0x40, 0x11, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        body.extend(explicit((0x0008, 0x1150), b"UI", b"1.2"));
        body.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        body.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        body.extend(explicit((0x0010, 0x0010), b"PN", b"Doe^Jo"));
        let buf = part10("1.2.840.10008.1.2.1", &body);
        assert_eq!(
            tags(&buf).unwrap(),
            vec![0x0008_0020, 0x0008_1140, 0x0010_0010]
        );
    }

    #[test]
    fn undefined_length_un_is_walked_as_implicit_vr() {
        let mut body = Vec::new();
        body.extend_from_slice(&[
            0x09, 0x00, 0x10, 0x10, b'U', b'N', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        body.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        // implicit VR element inside: (0009,1011) length 2
        body.extend_from_slice(&[0x09, 0x00, 0x11, 0x10, 2, 0, 0, 0, b'a', b'b']);
        body.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        body.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        body.extend(explicit((0x0010, 0x0020), b"LO", b"P1"));
        let buf = part10("1.2.840.10008.1.2.1", &body);
        assert_eq!(tags(&buf).unwrap(), vec![0x0009_1010, 0x0010_0020]);
    }

    #[test]
    fn broken_buffers_are_errors_not_panics() {
        assert_eq!(tags(b"short"), Err(LocateError::NotDicom));
        let good = part10(
            "1.2.840.10008.1.2.1",
            &explicit((0x0010, 0x0010), b"PN", b"Doe^Jo"),
        );
        let body_start = meta(&good).unwrap().dataset_start;
        for cut in (132..body_start).chain(body_start + 1..good.len()) {
            assert!(tags(&good[..cut]).is_err(), "cut at {cut}");
        }
        let bad_vr = part10(
            "1.2.840.10008.1.2.1",
            &explicit((0x0010, 0x0010), b"x1", b"ab"),
        );
        assert!(matches!(tags(&bad_vr), Err(LocateError::Malformed { .. })));
        let mut no_ts = vec![0u8; 128];
        no_ts.extend_from_slice(b"DICM");
        assert_eq!(tags(&no_ts), Err(LocateError::NoTransferSyntax));
    }

    #[test]
    fn big_endian_headers_are_read_big_endian() {
        let body = [0x00, 0x10, 0x00, 0x20, b'L', b'O', 0x00, 0x02, b'P', b'1'];
        let buf = part10(TS_EXPLICIT_BE, &body);
        assert_eq!(tags(&buf).unwrap(), vec![0x0010_0020]);
    }

    #[test]
    fn stop_after_ends_the_walk_early() {
        let mut body = explicit((0x0010, 0x0020), b"LO", b"P1");
        body.extend(explicit((0x0020, 0x0010), b"SH", b"12"));
        let buf = part10("1.2.840.10008.1.2.1", &body);
        let m = meta(&buf).unwrap();
        let mut out = Vec::new();
        let w = top_level(
            &buf,
            m.dataset_start,
            Encoding::ExplicitLe,
            Some(0x0010_0020),
            &mut out,
        );
        assert_eq!(w, Ok(Walked::Stopped));
        assert_eq!(out.len(), 1);
    }
}
