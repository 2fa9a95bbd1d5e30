//! The verifier's own DICOM reader: one pass over a file's bytes into a light tree of borrowed
//! values, bounded by the bytes actually present.
//!
//! It shares no code with the anonymizer's walker (`anonymize::locate`) nor with dicom-object's
//! parser, on purpose: the verifier must stay an independent code path. Values are never copied
//! or decoded: each element holds a slice of the file (pixel data included), so comparing a pair
//! costs little more than reading it. The lists of a sequence's items and of encapsulated
//! fragments, and a deflated file's inflated data set, live in the caller's [`Scratch`]: an
//! element owns nothing.
//!
//! Hostile input cannot make it allocate by a declared length or recurse: a length that runs past
//! the end of the file is refused ([`Unfit::LengthBeyondEnd`]), nesting deeper than
//! [`MAX_DEPTH`] is refused ([`Unfit::TooDeep`]), the walk uses an explicit stack, and a deflated
//! data set is inflated with an output limit tied to the input size ([`Unfit::Inflate`]). Every
//! node of the tree stands for at least 8 bytes of input, so the tree is at most a few times the
//! file's size.
//!
//! Encodings follow the transfer syntax, as dicom-object reads them: explicit or implicit VR,
//! either byte order; an unknown VR is read as `UN` with a 4-byte length; an undefined-length `UN`
//! or `SQ` is a sequence whose items use the file's encoding; in implicit VR the VR comes from the
//! standard dictionary (`UN` when unknown) and an undefined length is a sequence, except pixel
//! data, whose undefined length means fragments.

use dicom_core::Tag;
use dicom_core::dictionary::{DataDictionary, DataDictionaryEntry};
use dicom_dictionary_std::StandardDataDictionary;
use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Read;
use std::path::Path;

/// Why a file cannot be compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfit {
    /// An element or item declares more bytes than the file has left.
    LengthBeyondEnd,
    /// Sequences nested deeper than any real file does.
    TooDeep,
    /// The deflated data set is corrupt or inflates far beyond any real file.
    Inflate,
    /// Not a DICOM file, or its structure is broken (a header cut short, a missing item).
    Broken,
}

impl Unfit {
    /// The reason, for a finding: `x.dcm unreadable (element length beyond end of file)`.
    pub fn reason(self) -> &'static str {
        match self {
            Unfit::LengthBeyondEnd => "unreadable (element length beyond end of file)",
            Unfit::TooDeep => "unreadable (sequences nested too deeply)",
            Unfit::Inflate => "unreadable (deflated data corrupt or too large)",
            Unfit::Broken => "cannot be read",
        }
    }
}

/// Deeper nesting than this is refused (real files nest a handful of levels).
pub const MAX_DEPTH: usize = 64;
/// Inflated data may be at most this many times the deflated input (zlib's own ceiling is
/// about 1032:1), and never more than [`INFLATE_CAP`].
const INFLATE_RATIO: usize = 1100;
const INFLATE_CAP: usize = 1 << 31;
const UNDEFINED: u32 = u32::MAX;
const ITEM: Tag = Tag(0xFFFE, 0xE000);
const ITEM_END: Tag = Tag(0xFFFE, 0xE00D);
const SEQ_END: Tag = Tag(0xFFFE, 0xE0DD);
pub const PIXEL_DATA: Tag = Tag(0x7FE0, 0x0010);

/// The encoding of a data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enc {
    pub explicit: bool,
    pub big: bool,
}

/// One element: tag, VR (from the file, or the dictionary in implicit VR) and value.
#[derive(Debug)]
pub struct Elem<'a> {
    pub tag: Tag,
    pub vr: [u8; 2],
    pub value: Val<'a>,
}

/// An element's value, borrowed from the file's bytes (a sequence's items and the fragment
/// list from the parse's [`Scratch`]).
#[derive(Debug)]
pub enum Val<'a> {
    /// A value's bytes, padding included.
    Bytes(&'a [u8]),
    /// A sequence's items.
    Seq(&'a [DataSet<'a>]),
    /// Encapsulated pixel data: the offset table first, then the fragments.
    Frags(&'a [&'a [u8]]),
}

// An element owns nothing (dropping a file's element lists visits no element) and fills half a
// cache line.
const _: () = assert!(!std::mem::needs_drop::<Elem<'static>>());
const _: () = assert!(std::mem::size_of::<Elem<'static>>() == 32);

/// A data set's elements in file order (tag order in a valid file).
pub type DataSet<'a> = Vec<Elem<'a>>;

/// What a parsed file borrows besides the file's bytes, kept by the caller for as long as the
/// parsed file: the inflated data set of a deflated file, the items of its sequences and the
/// fragment lists of encapsulated pixel data. One per parse.
#[derive(Default)]
pub struct Scratch<'a> {
    inflated: std::cell::OnceCell<Vec<u8>>,
    items: typed_arena::Arena<DataSet<'a>>,
    frags: typed_arena::Arena<&'a [u8]>,
}

/// What the file meta group says, trimmed of padding (borrowed from the file unless it is not
/// UTF-8).
#[derive(Debug, Default, Clone)]
pub struct Meta<'a> {
    pub sop_class: Cow<'a, str>,
    pub sop_instance: Cow<'a, str>,
    pub transfer_syntax: Cow<'a, str>,
}

/// A parsed file.
#[derive(Debug)]
pub struct File<'a> {
    pub meta: Meta<'a>,
    pub enc: Enc,
    pub root: DataSet<'a>,
    /// The top level is in strictly ascending tag order (as in every valid file), so a binary
    /// search that misses needs no scan.
    sorted: bool,
}

impl<'a> File<'a> {
    /// The top-level element `tag`, if present (the first one, in an unsorted file).
    pub fn get(&self, tag: Tag) -> Option<&Elem<'a>> {
        if self.sorted {
            let i = self.root.binary_search_by(|e| e.tag.cmp(&tag)).ok()?;
            Some(&self.root[i])
        } else {
            get(&self.root, tag)
        }
    }

    /// The top-level elements `tags` (ascending), each as [`get`](Self::get) finds it, in one
    /// pass over a sorted file rather than a search per tag.
    pub fn get_sorted(&self, tags: &[Tag]) -> Vec<Option<&Elem<'a>>> {
        if !self.sorted || !tags.is_sorted() {
            return tags.iter().map(|t| self.get(*t)).collect();
        }
        let mut at = 0;
        tags.iter()
            .map(|&t| {
                while self.root.get(at).is_some_and(|e| e.tag < t) {
                    at += 1;
                }
                self.root.get(at).filter(|e| e.tag == t)
            })
            .collect()
    }
}

/// The element `tag` of a data set (binary search, then a scan for unsorted files).
pub fn get<'d, 'a>(ds: &'d [Elem<'a>], tag: Tag) -> Option<&'d Elem<'a>> {
    match ds.binary_search_by(|e| e.tag.cmp(&tag)) {
        Ok(i) => Some(&ds[i]),
        Err(_) => ds.iter().find(|e| e.tag == tag),
    }
}

/// Parses a Part 10 file's bytes (preamble or not). A deflated data set is inflated into
/// `scratch`, which also holds the sequences' items; the result borrows both.
pub fn read<'a>(bytes: &'a [u8], scratch: &'a Scratch<'a>) -> Result<File<'a>, Unfit> {
    let mut pos = if bytes.get(128..132) == Some(b"DICM".as_slice()) {
        132
    } else if bytes.starts_with(b"DICM") {
        4
    } else {
        return Err(Unfit::Broken);
    };
    let le = Enc {
        explicit: true,
        big: false,
    };
    let mut meta = Meta::default();
    let mut has_ts = false;
    // Where (0002,0000) FileMetaInformationGroupLength says the group ends: a deflated data set
    // may begin with the bytes `02 00`, which a scan by group number alone takes for more meta.
    let mut declared_end = None;
    while let Some(h) = header(bytes, pos, le) {
        if h.tag.0 != 0x0002 || declared_end == Some(pos) {
            break;
        }
        if h.len == UNDEFINED {
            return Err(Unfit::Broken);
        }
        let end = value_end(bytes, h.value_at, h.len, bytes.len())?;
        let text = || text(&bytes[h.value_at..end]);
        match h.tag.1 {
            0x0000 if end - h.value_at == 4 => {
                let v = &bytes[h.value_at..end];
                declared_end = Some(end + u32::from_le_bytes([v[0], v[1], v[2], v[3]]) as usize);
            }
            0x0002 => meta.sop_class = text(),
            0x0003 => meta.sop_instance = text(),
            0x0010 => {
                meta.transfer_syntax = text();
                has_ts = true;
            }
            _ => {}
        }
        pos = end;
    }
    if !has_ts {
        return Err(Unfit::Broken);
    }
    let (enc, body): (Enc, &'a [u8]) = match &*meta.transfer_syntax {
        "1.2.840.10008.1.2" => (
            Enc {
                explicit: false,
                big: false,
            },
            &bytes[pos..],
        ),
        "1.2.840.10008.1.2.2" => (
            Enc {
                explicit: true,
                big: true,
            },
            &bytes[pos..],
        ),
        "1.2.840.10008.1.2.1.99" => {
            let input = &bytes[pos..];
            let limit = input
                .len()
                .saturating_mul(INFLATE_RATIO)
                .clamp(1 << 20, INFLATE_CAP);
            let mut inflated = Vec::new();
            let mut z = flate2::read::DeflateDecoder::new(input).take(limit as u64 + 1);
            z.read_to_end(&mut inflated).map_err(|_| Unfit::Inflate)?;
            if inflated.len() > limit {
                return Err(Unfit::Inflate);
            }
            // A scratch serves one parse: a second deflated file cannot take its place.
            scratch.inflated.set(inflated).map_err(|_| Unfit::Broken)?;
            let inflated = scratch.inflated.get().ok_or(Unfit::Broken)?;
            (le, inflated.as_slice())
        }
        _ => (le, &bytes[pos..]),
    };
    // The walk specialised per encoding: the byte order and VR questions are then answered
    // when compiling, not once per element.
    let root = match (enc.explicit, enc.big) {
        (true, false) => dataset::<true, false>(body, scratch),
        (false, false) => dataset::<false, false>(body, scratch),
        (true, true) => dataset::<true, true>(body, scratch),
        (false, true) => dataset::<false, true>(body, scratch),
    }?;
    let sorted = root.windows(2).all(|w| w[0].tag < w[1].tag);
    Ok(File {
        meta,
        enc,
        root,
        sorted,
    })
}

/// Read buffers larger than this are not kept for the next file (a multi-frame file of
/// hundreds of MB must not stay resident).
const KEEP_BUFFER: usize = 16 << 20;
/// The first size of a fresh buffer (a typical MR slice fits).
const FIRST_BUFFER: usize = 256 << 10;

thread_local! {
    /// Each thread's spare read buffers, zero-filled to their length, reused file after file.
    static SPARE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A whole file's bytes in a reused buffer: the verifier reads every raw and anonymized file,
/// and a fresh allocation per file (plus the size query `std::fs::read` makes) costs about as
/// much as parsing it. Dropping it hands the buffer back to the thread's spares.
pub struct Bytes {
    /// Initialized to its full length; the file is `buf[..len]`.
    buf: Vec<u8>,
    len: usize,
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bytes({} bytes)", self.len)
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        if self.buf.len() <= KEEP_BUFFER {
            let buf = std::mem::take(&mut self.buf);
            // A thread keeps at most the two buffers of a pair.
            let _ = SPARE.try_with(|s| {
                let mut s = s.borrow_mut();
                if s.len() < 2 {
                    s.push(buf);
                }
            });
        }
    }
}

/// Reads a whole file into a reused buffer, like `std::fs::read`.
pub fn read_file(path: &Path) -> std::io::Result<Bytes> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = SPARE
        .try_with(|s| s.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut len = 0;
    loop {
        if len == buf.len() {
            // Full: grow to the file's size (one query, only for files larger than the
            // buffer), at least doubling. The bytes are zeroed once per buffer, not per file.
            let size = file.metadata().map_or(0, |m| m.len());
            let want = usize::try_from(size)
                .unwrap_or(usize::MAX)
                .saturating_add(1)
                .max(buf.len().saturating_mul(2))
                .max(FIRST_BUFFER);
            buf.resize(want, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Bytes { buf, len })
}

/// One level of the walk: a data set being filled, or a sequence's items.
enum Frame<'a> {
    /// Elements of a data set; `end` is its defined end, `None` until an item delimiter.
    Set {
        elems: DataSet<'a>,
        end: Option<usize>,
    },
    /// Items of the sequence `tag`; `end` as for data sets.
    Seq {
        tag: Tag,
        vr: [u8; 2],
        items: Vec<DataSet<'a>>,
        end: Option<usize>,
    },
}

/// Walks a whole data set in the encoding `EXPLICIT`, `BIG`, iteratively.
fn dataset<'a, const EXPLICIT: bool, const BIG: bool>(
    b: &'a [u8],
    scratch: &'a Scratch<'a>,
) -> Result<DataSet<'a>, Unfit> {
    let enc = Enc {
        explicit: EXPLICIT,
        big: BIG,
    };
    // Room for a typical MR header's top level without regrowing (bounded by the data's size:
    // every element takes at least 8 bytes).
    let mut stack: Vec<Frame<'_>> = vec![Frame::Set {
        elems: Vec::with_capacity((b.len() / 8).min(256)),
        end: Some(b.len()),
    }];
    let mut pos = 0usize;
    loop {
        let depth = stack.len();
        match stack
            .last_mut()
            .expect("the root frame stays until the end")
        {
            Frame::Set { elems, end } => {
                // The data set's plain elements (a defined length, not a sequence), one after
                // another without going back to the stack; then its end, a delimiter, a
                // sequence or encapsulated data.
                let next = loop {
                    if end.is_some_and(|e| pos >= e) {
                        break None;
                    }
                    let h = header(b, pos, enc).ok_or(Unfit::Broken)?;
                    let vr = if enc.explicit {
                        h.vr
                    } else {
                        implicit_vr(h.tag)
                    };
                    if h.tag == ITEM_END || h.tag == SEQ_END || h.len == UNDEFINED || &vr == b"SQ" {
                        break Some((h, vr));
                    }
                    let e = value_end(b, h.value_at, h.len, b.len())?;
                    elems.push(Elem {
                        tag: h.tag,
                        vr,
                        value: Val::Bytes(&b[h.value_at..e]),
                    });
                    pos = e;
                };
                let Some((h, vr)) = next else {
                    let Some(Frame::Set { elems, .. }) = stack.pop() else {
                        unreachable!()
                    };
                    match stack.last_mut() {
                        None => return Ok(elems),
                        Some(Frame::Seq { items, .. }) => items.push(elems),
                        Some(Frame::Set { .. }) => return Err(Unfit::Broken),
                    }
                    continue;
                };
                if h.tag == ITEM_END || h.tag == SEQ_END {
                    if depth == 1 {
                        // A stray delimiter at the top level: skipped, as readers do.
                        pos = h.value_at;
                        continue;
                    }
                    if h.tag == ITEM_END {
                        pos = h.value_at;
                    }
                    // Ends this item; a sequence delimiter is then read by the sequence.
                    *end = Some(pos);
                    continue;
                }
                let is_seq = if enc.explicit {
                    &vr == b"SQ" || (&vr == b"UN" && h.len == UNDEFINED)
                } else {
                    &vr == b"SQ" || (h.len == UNDEFINED && h.tag != PIXEL_DATA)
                };
                if is_seq {
                    if depth / 2 >= MAX_DEPTH {
                        return Err(Unfit::TooDeep);
                    }
                    let end = if h.len == UNDEFINED {
                        None
                    } else {
                        Some(value_end(b, h.value_at, h.len, b.len())?)
                    };
                    stack.push(Frame::Seq {
                        tag: h.tag,
                        vr: if enc.explicit { vr } else { *b"SQ" },
                        items: Vec::new(),
                        end,
                    });
                    pos = h.value_at;
                    continue;
                }
                // Left: an undefined length that is no sequence, i.e. encapsulated data (the
                // loop above took every defined length that is no sequence).
                debug_assert_eq!(h.len, UNDEFINED);
                let (frags, after) = fragments(b, h.value_at)?;
                elems.push(Elem {
                    tag: h.tag,
                    vr,
                    value: Val::Frags(scratch.frags.alloc_extend(frags)),
                });
                pos = after;
            }
            Frame::Seq { end, .. } => {
                let at_end = match *end {
                    Some(e) => pos >= e,
                    None => false,
                };
                let next = if at_end {
                    None
                } else {
                    Some(item_header(b, pos, enc).ok_or(Unfit::Broken)?)
                };
                match next {
                    Some(h) if h.tag == ITEM => {
                        let item_end = if h.len == UNDEFINED {
                            None
                        } else {
                            Some(value_end(b, h.value_at, h.len, b.len())?)
                        };
                        stack.push(Frame::Set {
                            elems: Vec::new(),
                            end: item_end,
                        });
                        pos = h.value_at;
                    }
                    Some(h) if h.tag == SEQ_END || h.tag == ITEM_END => {
                        pos = h.value_at;
                        *end = Some(pos);
                    }
                    Some(_) => return Err(Unfit::Broken),
                    None => {
                        let Some(Frame::Seq { tag, vr, items, .. }) = stack.pop() else {
                            unreachable!()
                        };
                        let Some(Frame::Set { elems, .. }) = stack.last_mut() else {
                            return Err(Unfit::Broken);
                        };
                        elems.push(Elem {
                            tag,
                            vr,
                            value: Val::Seq(scratch.items.alloc_extend(items)),
                        });
                    }
                }
            }
        }
    }
}

/// The fragments of encapsulated data starting at `pos`; returns them and where they end.
fn fragments(b: &[u8], mut pos: usize) -> Result<(Vec<&[u8]>, usize), Unfit> {
    let mut out = Vec::new();
    loop {
        let h = item_header(
            b,
            pos,
            Enc {
                explicit: true,
                big: false,
            },
        )
        .ok_or(Unfit::Broken)?;
        match h.tag {
            SEQ_END => return Ok((out, h.value_at)),
            ITEM if h.len != UNDEFINED => {
                let e = value_end(b, h.value_at, h.len, b.len())?;
                out.push(&b[h.value_at..e]);
                pos = e;
            }
            _ => return Err(Unfit::Broken),
        }
    }
}

/// An element header: tag, VR (explicit only), declared length and where the value starts.
struct Header {
    tag: Tag,
    vr: [u8; 2],
    len: u32,
    value_at: usize,
}

/// Reads the element header at `pos`, or `None` when the data ends inside it.
#[inline(always)]
fn header(b: &[u8], pos: usize, enc: Enc) -> Option<Header> {
    // Every header kind is at least 8 bytes: tag, then VR and a 2-byte length, or a 4-byte
    // length. They are taken at once (one bounds check, not one per field).
    let h: &[u8; 8] = b.get(pos..)?.first_chunk()?;
    let u16_of = |i: usize| {
        let x = [h[i], h[i + 1]];
        if enc.big {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        }
    };
    let tag = Tag(u16_of(0), u16_of(2));
    if tag.0 == 0xFFFE || !enc.explicit {
        let x = [h[4], h[5], h[6], h[7]];
        return Some(Header {
            tag,
            vr: *b"UN",
            len: if enc.big {
                u32::from_be_bytes(x)
            } else {
                u32::from_le_bytes(x)
            },
            value_at: pos + 8,
        });
    }
    let vr = [h[4], h[5]];
    if short_length(vr) {
        Some(Header {
            tag,
            vr,
            len: u32::from(u16_of(6)),
            value_at: pos + 8,
        })
    } else {
        // An unknown VR is read as `UN`, as dicom-object does.
        let vr = if long_length(vr) { vr } else { *b"UN" };
        Some(Header {
            tag,
            vr,
            len: u32_at(b, pos + 8, enc.big)?,
            value_at: pos + 12,
        })
    }
}

/// Reads an item or delimiter header (always tag and 4-byte length).
#[inline(always)]
fn item_header(b: &[u8], pos: usize, enc: Enc) -> Option<Header> {
    Some(Header {
        tag: Tag(u16_at(b, pos, enc.big)?, u16_at(b, pos + 2, enc.big)?),
        vr: *b"UN",
        len: u32_at(b, pos + 4, enc.big)?,
        value_at: pos + 8,
    })
}

/// The end of a value of `len` bytes at `at`, refused when it passes `limit`.
#[inline]
fn value_end(_b: &[u8], at: usize, len: u32, limit: usize) -> Result<usize, Unfit> {
    let len = usize::try_from(len).map_err(|_| Unfit::LengthBeyondEnd)?;
    match at.checked_add(len) {
        Some(end) if end <= limit => Ok(end),
        _ => Err(Unfit::LengthBeyondEnd),
    }
}

/// The VR the standard dictionary gives a tag (the first of several), `UN` when unknown.
pub fn implicit_vr(tag: Tag) -> [u8; 2] {
    if !tag.0.is_multiple_of(2) {
        // Private creators are LO; private values are unknown.
        return if tag.1 >= 0x0010 && tag.1 <= 0x00FF {
            *b"LO"
        } else {
            *b"UN"
        };
    }
    if tag.1 == 0x0000 {
        return *b"UL";
    }
    match StandardDataDictionary.by_tag(tag) {
        Some(e) => {
            let s = e.vr().relaxed().to_string();
            let s = s.as_bytes();
            if s.len() >= 2 { [s[0], s[1]] } else { *b"UN" }
        }
        None => *b"UN",
    }
}

/// VRs whose explicit-VR header has a 2-byte length.
#[inline]
fn short_length(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SS"
            | b"ST"
            | b"TM"
            | b"UI"
            | b"UL"
            | b"US"
    )
}

/// Known VRs with 2 reserved bytes and a 4-byte length.
#[inline]
fn long_length(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"SQ"
            | b"SV"
            | b"UC"
            | b"UN"
            | b"UR"
            | b"UT"
            | b"UV"
    )
}

/// Text VRs: values compared and searched as text.
pub fn is_text(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"AE"
            | b"AS"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"PN"
            | b"SH"
            | b"ST"
            | b"TM"
            | b"UC"
            | b"UI"
            | b"UR"
            | b"UT"
    )
}

/// The size of one number of a binary VR (what a change of byte order swaps), 1 for bytes.
pub fn word(vr: [u8; 2]) -> usize {
    match &vr {
        b"US" | b"SS" | b"OW" | b"AT" => 2,
        b"UL" | b"SL" | b"FL" | b"OL" | b"OF" => 4,
        b"FD" | b"OD" | b"SV" | b"UV" | b"OV" => 8,
        _ => 1,
    }
}

/// A value's bytes without the spaces and NULs that pad it at either end.
pub fn trimmed(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|&c| c != b' ' && c != 0)
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|&c| c != b' ' && c != 0)
        .map_or(start, |i| i + 1);
    &b[start..end]
}

/// Bytes as text, trimmed of space and NUL padding at both ends: UTF-8 when valid, else Latin-1.
pub fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    let b = trimmed(b);
    match std::str::from_utf8(b) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => std::borrow::Cow::Owned(b.iter().map(|&c| c as char).collect()),
    }
}

#[inline(always)]
fn u16_at(b: &[u8], pos: usize, big: bool) -> Option<u16> {
    let x: [u8; 2] = b.get(pos..pos.checked_add(2)?)?.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(x)
    } else {
        u16::from_le_bytes(x)
    })
}

#[inline(always)]
fn u32_at(b: &[u8], pos: usize, big: bool) -> Option<u32> {
    let x: [u8; 4] = b.get(pos..pos.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(x)
    } else {
        u32::from_le_bytes(x)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A Part 10 file: preamble, `DICM`, a meta group naming `ts`, then `body`.
    pub fn file(ts: &str, body: &[u8]) -> Vec<u8> {
        let mut ts = ts.as_bytes().to_vec();
        if ts.len() % 2 == 1 {
            ts.push(0);
        }
        let mut b = vec![0u8; 128];
        b.extend_from_slice(b"DICM");
        b.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        b.extend_from_slice(&(ts.len() as u16).to_le_bytes());
        b.extend_from_slice(&ts);
        b.extend_from_slice(body);
        b
    }

    /// An explicit VR little endian element with a 2-byte length.
    pub fn short(group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&group.to_le_bytes());
        b.extend_from_slice(&elem.to_le_bytes());
        b.extend_from_slice(vr);
        b.extend_from_slice(&(value.len() as u16).to_le_bytes());
        b.extend_from_slice(value);
        b
    }

    /// A tag followed by a 4-byte length (items, delimiters, implicit VR).
    pub fn tag_len(group: u16, elem: u16, len: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&group.to_le_bytes());
        b.extend_from_slice(&elem.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    pub const EXPLICIT: &str = "1.2.840.10008.1.2.1";
    const IMPLICIT: &str = "1.2.840.10008.1.2";

    fn parse(bytes: &[u8]) -> Result<usize, Unfit> {
        let scratch = Scratch::default();
        read(bytes, &scratch).map(|f| f.root.len())
    }

    #[test]
    fn a_well_formed_file_parses_into_borrowed_values() {
        let mut body = short(0x0010, 0x0010, b"PN", b"Doe^Jane");
        // An undefined-length sequence with one undefined-length item.
        body.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0]);
        body.extend_from_slice(&UNDEFINED.to_le_bytes());
        body.extend(tag_len(0xFFFE, 0xE000, UNDEFINED));
        body.extend(short(0x0008, 0x1150, b"UI", b"1.2\0"));
        body.extend(tag_len(0xFFFE, 0xE00D, 0));
        body.extend(tag_len(0xFFFE, 0xE0DD, 0));
        // Encapsulated pixel data: an empty offset table and one fragment.
        body.extend_from_slice(&[0xE0, 0x7F, 0x10, 0x00, b'O', b'B', 0, 0]);
        body.extend_from_slice(&UNDEFINED.to_le_bytes());
        body.extend(tag_len(0xFFFE, 0xE000, 0));
        body.extend(tag_len(0xFFFE, 0xE000, 4));
        body.extend_from_slice(b"abcd");
        body.extend(tag_len(0xFFFE, 0xE0DD, 0));
        let bytes = file(EXPLICIT, &body);
        let scratch = Scratch::default();
        let f = read(&bytes, &scratch).unwrap();
        assert_eq!(f.root.len(), 3);
        assert!(matches!(f.root[0].value, Val::Bytes(b"Doe^Jane")));
        let Val::Seq(items) = &f.root[1].value else {
            panic!("not a sequence")
        };
        assert_eq!(items.len(), 1);
        assert_eq!(
            text(match &items[0][0].value {
                Val::Bytes(b) => b,
                _ => panic!(),
            }),
            "1.2"
        );
        let Val::Frags(fr) = &f.root[2].value else {
            panic!("not fragments")
        };
        assert_eq!(fr, &[b"".as_slice(), b"abcd".as_slice()]);
        assert_eq!(parse(b"not dicom"), Err(Unfit::Broken));
    }

    #[test]
    fn a_top_level_length_past_the_end_is_refused() {
        let mut body = vec![0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
        body.extend_from_slice(&0xE000_FFFEu32.to_le_bytes());
        body.extend_from_slice(b"abcd");
        assert_eq!(parse(&file(EXPLICIT, &body)), Err(Unfit::LengthBeyondEnd));
    }

    #[test]
    fn a_nested_length_past_the_end_is_refused() {
        // An undefined-length UN holding implicit VR data, read as explicit (as dicom-object
        // does): the VR bytes are not a VR, so the next four bytes are a huge length.
        let mut body = vec![0x53, 0x44, 0x0C, 0x10, b'U', b'N', 0, 0];
        body.extend_from_slice(&UNDEFINED.to_le_bytes());
        body.extend(tag_len(0xFFFE, 0xE000, UNDEFINED));
        body.extend(tag_len(0x0008, 0x1115, UNDEFINED));
        body.extend(tag_len(0xFFFE, 0xE000, UNDEFINED));
        body.extend(tag_len(0xFFFE, 0xE00D, 0));
        assert_eq!(parse(&file(EXPLICIT, &body)), Err(Unfit::LengthBeyondEnd));
    }

    #[test]
    fn implicit_vr_items_are_checked_too() {
        let mut body = tag_len(0x0008, 0x1115, 16);
        body.extend(tag_len(0xFFFE, 0xE000, 1_000_000));
        body.extend_from_slice(&[0; 8]);
        assert_eq!(parse(&file(IMPLICIT, &body)), Err(Unfit::LengthBeyondEnd));
    }

    fn nested(levels: usize, explicit: bool) -> Vec<u8> {
        let mut body = Vec::new();
        for _ in 0..levels {
            if explicit {
                body.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0]);
                body.extend_from_slice(&UNDEFINED.to_le_bytes());
            } else {
                body.extend(tag_len(0x0008, 0x1115, UNDEFINED));
            }
            body.extend(tag_len(0xFFFE, 0xE000, UNDEFINED));
        }
        body
    }

    #[test]
    fn absurd_nesting_is_refused_without_recursion() {
        assert_eq!(
            parse(&file(IMPLICIT, &nested(MAX_DEPTH + 2, false))),
            Err(Unfit::TooDeep)
        );
        // Many thousand levels, deflated as in the reported crash: refused, no stack overflow.
        let body = nested(5000, true);
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, &body).unwrap();
        let deflated = z.finish().unwrap();
        assert_eq!(
            parse(&file("1.2.840.10008.1.2.1.99", &deflated)),
            Err(Unfit::TooDeep)
        );
        // A few levels close properly: fine.
        let mut body = nested(3, false);
        for _ in 0..3 {
            body.extend(tag_len(0xFFFE, 0xE00D, 0));
            body.extend(tag_len(0xFFFE, 0xE0DD, 0));
        }
        assert_eq!(parse(&file(IMPLICIT, &body)), Ok(1));
    }

    #[test]
    fn a_declared_huge_element_costs_nothing() {
        // A deflated file declaring a 3.7 GB element: refused from the bytes present.
        let mut body = vec![0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
        body.extend_from_slice(&0xE000_0000u32.to_le_bytes());
        body.extend_from_slice(&[0; 64]);
        let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        std::io::Write::write_all(&mut z, &body).unwrap();
        let deflated = z.finish().unwrap();
        assert_eq!(
            parse(&file("1.2.840.10008.1.2.1.99", &deflated)),
            Err(Unfit::LengthBeyondEnd)
        );
        // Corrupt deflate data.
        assert_eq!(
            parse(&file("1.2.840.10008.1.2.1.99", &[0xFF; 40])),
            Err(Unfit::Inflate)
        );
    }

    #[test]
    fn files_read_into_reused_buffers_hold_exactly_their_bytes() {
        let t = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..FIRST_BUFFER * 3 + 7).map(|i| (i % 251) as u8).collect();
        let (a, b, c) = (t.path().join("a"), t.path().join("b"), t.path().join("c"));
        std::fs::write(&a, &big).unwrap();
        std::fs::write(&b, b"small").unwrap();
        std::fs::write(&c, b"").unwrap();
        // Larger than a fresh buffer, then smaller ones in the same (reused) buffers.
        for _ in 0..2 {
            let (x, y) = (read_file(&a).unwrap(), read_file(&b).unwrap());
            assert_eq!(&*x, big.as_slice());
            assert_eq!(&*y, b"small");
            drop((x, y));
            assert_eq!(&*read_file(&c).unwrap(), b"");
            assert_eq!(&*read_file(&b).unwrap(), b"small");
        }
        assert!(read_file(&t.path().join("absent")).is_err());
    }

    #[test]
    fn a_lookup_finds_elements_in_sorted_and_unsorted_files() {
        let el = |e: u16| short(0x0010, e, b"LO", b"ab");
        let sorted = [el(0x10), el(0x20), el(0x30)].concat();
        let unsorted = [el(0x30), el(0x10), el(0x20)].concat();
        for body in [sorted, unsorted] {
            let bytes = file(EXPLICIT, &body);
            let scratch = Scratch::default();
            let f = read(&bytes, &scratch).unwrap();
            let tags = [
                Tag(0x0010, 0x0005),
                Tag(0x0010, 0x0010),
                Tag(0x0010, 0x0020),
                Tag(0x0010, 0x0025),
                Tag(0x0010, 0x0030),
                Tag(0x0010, 0x0040),
            ];
            let want = [false, true, true, false, true, false];
            let found: Vec<bool> = f.get_sorted(&tags).iter().map(Option::is_some).collect();
            assert_eq!(found, want);
            let one_by_one: Vec<bool> = tags.iter().map(|t| f.get(*t).is_some()).collect();
            assert_eq!(one_by_one, want);
        }
    }

    /// The element header read field by field, each with its own bounds check (as `header`
    /// did before it took the first 8 bytes at once).
    fn header_by_fields(b: &[u8], pos: usize, enc: Enc) -> Option<(Tag, [u8; 2], u32, usize)> {
        let tag = Tag(u16_at(b, pos, enc.big)?, u16_at(b, pos + 2, enc.big)?);
        if tag.0 == 0xFFFE || !enc.explicit {
            return Some((tag, *b"UN", u32_at(b, pos + 4, enc.big)?, pos + 8));
        }
        let vr = [*b.get(pos + 4)?, *b.get(pos + 5)?];
        if short_length(vr) {
            Some((tag, vr, u32::from(u16_at(b, pos + 6, enc.big)?), pos + 8))
        } else {
            let vr = if long_length(vr) { vr } else { *b"UN" };
            Some((tag, vr, u32_at(b, pos + 8, enc.big)?, pos + 12))
        }
    }

    #[test]
    fn a_header_reads_as_field_by_field_in_every_encoding_and_at_every_cut() {
        let vrs: [&[u8; 2]; 8] = [b"PN", b"UL", b"OB", b"SQ", b"UN", b"UT", b"ZZ", b"\0\0"];
        let mut rng = crate::synth::rng::Stream::new(7);
        let mut seen = [0usize; 3];
        for _ in 0..20_000 {
            let mut b: Vec<u8> = (0..16).map(|_| rng.next_u64() as u8).collect();
            let r = rng.next_u64();
            if r.is_multiple_of(4) {
                b[0..2].copy_from_slice(&[0xFE, 0xFF]);
            }
            b[4..6].copy_from_slice(vrs[(r >> 8) as usize % vrs.len()]);
            let cut = (r >> 16) as usize % 17;
            let b = &b[..cut];
            for enc in [(true, false), (false, false), (true, true), (false, true)] {
                let enc = Enc {
                    explicit: enc.0,
                    big: enc.1,
                };
                for pos in 0..=cut {
                    let got = header(b, pos, enc).map(|h| (h.tag, h.vr, h.len, h.value_at));
                    let want = header_by_fields(b, pos, enc);
                    assert_eq!(got, want, "{b:02x?} at {pos} in {enc:?}");
                    seen[match want {
                        None => 0,
                        Some((.., 8)) => 1,
                        Some(_) => 2,
                    }] += 1;
                }
            }
        }
        // Cut short, 8-byte and 12-byte headers were all met.
        assert!(seen.iter().all(|&n| n > 1000), "{seen:?}");
    }

    #[test]
    fn a_header_cut_short_is_broken() {
        let body = vec![0x10, 0x00, 0x10, 0x00, b'P'];
        assert_eq!(parse(&file(EXPLICIT, &body)), Err(Unfit::Broken));
    }

    #[test]
    fn implicit_vrs_come_from_the_dictionary() {
        assert_eq!(&implicit_vr(Tag(0x0010, 0x0010)), b"PN");
        assert_eq!(&implicit_vr(Tag(0x0008, 0x1140)), b"SQ");
        assert_eq!(&implicit_vr(Tag(0x0029, 0x0010)), b"LO");
        assert_eq!(&implicit_vr(Tag(0x0029, 0x1010)), b"UN");
        assert_eq!(&implicit_vr(Tag(0x7FE0, 0x0010)), b"OW");
    }
}
