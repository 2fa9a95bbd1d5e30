//! A cheap look at a file's element lengths before dicom-object parses it, so a corrupt or
//! hostile file cannot make `verify` hang or eat memory.
//!
//! dicom-object reserves and zero-fills a value's declared length before it reads the value:
//! a 674-byte file whose element claims 3.7 GB costs seconds and gigabytes before it fails.
//! This walk follows the element headers the way dicom-object does (explicit or implicit VR by
//! the transfer syntax, undefined lengths as sequences, an unknown VR as `UN` with a 4-byte
//! length) and refuses a file when any length, top-level or nested, runs past the end of the
//! file. It decides nothing else: a file it lets through is still parsed and compared in full.
//! It shares no code with the anonymizer's walker (`anonymize::locate`), on purpose: the
//! verifier must stay an independent code path.

/// Why a file was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfit {
    /// An element or item declares more bytes than the file has left.
    LengthBeyondEnd,
    /// Sequences nested deeper than any real file does.
    TooDeep,
}

impl Unfit {
    /// The reason, for a finding: `x.dcm unreadable (element length beyond end of file)`.
    pub fn reason(self) -> &'static str {
        match self {
            Unfit::LengthBeyondEnd => "unreadable (element length beyond end of file)",
            Unfit::TooDeep => "unreadable (sequences nested too deeply)",
        }
    }
}

/// Deeper nesting than this is refused (real files nest a handful of levels).
const MAX_DEPTH: usize = 64;
const UNDEFINED: u32 = u32::MAX;
const ITEM: (u16, u16) = (0xFFFE, 0xE000);
const ITEM_END: (u16, u16) = (0xFFFE, 0xE00D);
const SEQ_END: (u16, u16) = (0xFFFE, 0xE0DD);
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

/// The encoding of the data set after the file meta group.
#[derive(Debug, Clone, Copy)]
struct Enc {
    explicit: bool,
    big: bool,
}

/// Checks every declared length in a DICOM Part 10 file's bytes against the file's size.
///
/// Files without the `DICM` signature and deflated files are let through (dicom-object refuses
/// the first quickly; the second's lengths cannot be checked without inflating it). A header cut
/// short by the end of the file is let through too: dicom-object reports it without a large
/// allocation.
pub fn check(bytes: &[u8]) -> Result<(), Unfit> {
    if bytes.len() < 132 || &bytes[128..132] != b"DICM" {
        return Ok(());
    }
    let meta = Enc {
        explicit: true,
        big: false,
    };
    let mut pos = 132;
    let mut ts: &[u8] = b"";
    while let Some(h) = header(bytes, pos, meta) {
        if h.tag.0 != 0x0002 {
            break;
        }
        let end = value_end(bytes, h.value_at, h.len)?;
        if h.tag == (0x0002, 0x0010) {
            ts = &bytes[h.value_at..end];
        }
        pos = end;
    }
    let ts = trim(ts);
    let enc = match ts {
        b"1.2.840.10008.1.2.1.99" => return Ok(()),
        b"1.2.840.10008.1.2" => Enc {
            explicit: false,
            big: false,
        },
        b"1.2.840.10008.1.2.2" => Enc {
            explicit: true,
            big: true,
        },
        _ => Enc {
            explicit: true,
            big: false,
        },
    };
    dataset(bytes, pos, bytes.len(), enc, 0).map(|_| ())
}

/// Walks a data set from `pos` until `end`, an item delimiter or the end of the file; returns
/// where it stopped.
fn dataset(
    bytes: &[u8],
    mut pos: usize,
    end: usize,
    enc: Enc,
    depth: usize,
) -> Result<usize, Unfit> {
    if depth > MAX_DEPTH {
        return Err(Unfit::TooDeep);
    }
    while pos < end {
        let Some(h) = header(bytes, pos, enc) else {
            return Ok(bytes.len());
        };
        if h.tag == ITEM_END || h.tag == SEQ_END {
            return Ok(h.value_at);
        }
        if h.len == UNDEFINED {
            pos = sequence(
                bytes,
                h.value_at,
                UNDEFINED,
                h.tag == PIXEL_DATA,
                enc,
                depth + 1,
            )?;
            continue;
        }
        let value_end = value_end(bytes, h.value_at, h.len)?;
        let nested = if enc.explicit {
            h.vr == *b"SQ"
        } else {
            // Implicit VR: a value that opens with an item tag is a sequence.
            header(bytes, h.value_at, enc).is_some_and(|i| i.tag == ITEM) && h.len >= 8
        };
        if nested {
            sequence(bytes, h.value_at, h.len, false, enc, depth + 1)?;
        }
        pos = value_end;
    }
    Ok(pos)
}

/// Walks the items of a sequence (or the fragments of encapsulated pixel data) starting at
/// `pos`, `len` bytes long or until its delimiter; returns where it ended.
fn sequence(
    bytes: &[u8],
    mut pos: usize,
    len: u32,
    pixels: bool,
    enc: Enc,
    depth: usize,
) -> Result<usize, Unfit> {
    if depth > MAX_DEPTH {
        return Err(Unfit::TooDeep);
    }
    let end = if len == UNDEFINED {
        bytes.len()
    } else {
        value_end(bytes, pos, len)?
    };
    while pos < end {
        let Some(h) = item_header(bytes, pos, enc) else {
            return Ok(bytes.len());
        };
        match h.tag {
            SEQ_END => return Ok(h.value_at),
            ITEM if h.len == UNDEFINED && !pixels => {
                pos = dataset(bytes, h.value_at, bytes.len(), enc, depth + 1)?;
            }
            ITEM => {
                let item_end = value_end(bytes, h.value_at, h.len)?;
                if !pixels {
                    dataset(bytes, h.value_at, item_end, enc, depth + 1)?;
                }
                pos = item_end;
            }
            // Not an item where one belongs: dicom-object stops there with an error, cheaply.
            _ => return Ok(bytes.len()),
        }
    }
    Ok(end)
}

/// An element header: tag, VR (explicit only), declared length and where the value starts.
struct Header {
    tag: (u16, u16),
    vr: [u8; 2],
    len: u32,
    value_at: usize,
}

/// Reads the element header at `pos`, or `None` when the file ends inside it.
fn header(bytes: &[u8], pos: usize, enc: Enc) -> Option<Header> {
    let tag = (
        u16_at(bytes, pos, enc.big)?,
        u16_at(bytes, pos + 2, enc.big)?,
    );
    if tag.0 == 0xFFFE || !enc.explicit {
        return Some(Header {
            tag,
            vr: [0, 0],
            len: u32_at(bytes, pos + 4, enc.big)?,
            value_at: pos + 8,
        });
    }
    let vr = [*bytes.get(pos + 4)?, *bytes.get(pos + 5)?];
    if short_length(vr) {
        Some(Header {
            tag,
            vr,
            len: u32::from(u16_at(bytes, pos + 6, enc.big)?),
            value_at: pos + 8,
        })
    } else {
        Some(Header {
            tag,
            vr,
            len: u32_at(bytes, pos + 8, enc.big)?,
            value_at: pos + 12,
        })
    }
}

/// Reads an item or delimiter header (always tag and 4-byte length, in any encoding).
fn item_header(bytes: &[u8], pos: usize, enc: Enc) -> Option<Header> {
    let tag = (
        u16_at(bytes, pos, enc.big)?,
        u16_at(bytes, pos + 2, enc.big)?,
    );
    Some(Header {
        tag,
        vr: [0, 0],
        len: u32_at(bytes, pos + 4, enc.big)?,
        value_at: pos + 8,
    })
}

/// The end of a value of `len` bytes starting at `at`, or the refusal when it passes the end
/// of the file.
fn value_end(bytes: &[u8], at: usize, len: u32) -> Result<usize, Unfit> {
    let len = usize::try_from(len).map_err(|_| Unfit::LengthBeyondEnd)?;
    match at.checked_add(len) {
        Some(end) if end <= bytes.len() => Ok(end),
        _ => Err(Unfit::LengthBeyondEnd),
    }
}

/// VRs whose explicit-VR header has a 2-byte length. Any other, unknown ones included (read
/// as `UN`, as dicom-object does), has 2 reserved bytes and a 4-byte length.
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

fn u16_at(bytes: &[u8], pos: usize, big: bool) -> Option<u16> {
    let b: [u8; 2] = bytes.get(pos..pos.checked_add(2)?)?.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(b)
    } else {
        u16::from_le_bytes(b)
    })
}

fn u32_at(bytes: &[u8], pos: usize, big: bool) -> Option<u32> {
    let b: [u8; 4] = bytes.get(pos..pos.checked_add(4)?)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

/// A UID value without its padding (NUL or space).
fn trim(v: &[u8]) -> &[u8] {
    let end = v
        .iter()
        .rposition(|&b| b != 0 && b != b' ')
        .map_or(0, |i| i + 1);
    &v[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Part 10 file: preamble, `DICM`, a meta group naming `ts`, then `body`.
    fn file(ts: &str, body: &[u8]) -> Vec<u8> {
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
    fn short(group: u16, elem: u16, vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&group.to_le_bytes());
        b.extend_from_slice(&elem.to_le_bytes());
        b.extend_from_slice(vr);
        b.extend_from_slice(&(value.len() as u16).to_le_bytes());
        b.extend_from_slice(value);
        b
    }

    /// A tag followed by a 4-byte length (items, delimiters, implicit VR).
    fn tag_len(group: u16, elem: u16, len: u32) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(&group.to_le_bytes());
        b.extend_from_slice(&elem.to_le_bytes());
        b.extend_from_slice(&len.to_le_bytes());
        b
    }

    const EXPLICIT: &str = "1.2.840.10008.1.2.1";

    #[test]
    fn a_well_formed_file_passes() {
        let mut body = short(0x0010, 0x0010, b"PN", b"Doe^Jane");
        // An undefined-length sequence with one undefined-length item.
        body.extend_from_slice(&[0x08, 0x00, 0x15, 0x11, b'S', b'Q', 0, 0]);
        body.extend_from_slice(&UNDEFINED.to_le_bytes());
        body.extend(tag_len(0xFFFE, 0xE000, UNDEFINED));
        body.extend(short(0x0008, 0x1150, b"UI", b"1.2\0"));
        body.extend(tag_len(0xFFFE, 0xE00D, 0));
        body.extend(tag_len(0xFFFE, 0xE0DD, 0));
        assert_eq!(check(&file(EXPLICIT, &body)), Ok(()));
        assert_eq!(check(b"not dicom"), Ok(()));
    }

    #[test]
    fn a_top_level_length_past_the_end_is_refused() {
        let mut body = vec![0x09, 0x00, 0x10, 0x10, b'O', b'B', 0, 0];
        body.extend_from_slice(&0xE000_FFFEu32.to_le_bytes());
        body.extend_from_slice(b"abcd");
        assert_eq!(check(&file(EXPLICIT, &body)), Err(Unfit::LengthBeyondEnd));
    }

    #[test]
    fn a_nested_length_past_the_end_is_refused() {
        // An undefined-length UN holding implicit VR data, read as explicit: the VR bytes are
        // not a VR, so the next four bytes are a huge length (pydicom's UN_sequence.dcm).
        let mut body = vec![0x53, 0x44, 0x0C, 0x10, b'U', b'N', 0, 0];
        body.extend_from_slice(&UNDEFINED.to_le_bytes());
        body.extend(tag_len(0xFFFE, 0xE000, UNDEFINED));
        body.extend(tag_len(0x0008, 0x1115, UNDEFINED));
        body.extend(tag_len(0xFFFE, 0xE000, UNDEFINED));
        body.extend(tag_len(0xFFFE, 0xE00D, 0));
        assert_eq!(check(&file(EXPLICIT, &body)), Err(Unfit::LengthBeyondEnd));
    }

    #[test]
    fn implicit_vr_items_are_checked_too() {
        let mut body = tag_len(0x0008, 0x1115, 16);
        body.extend(tag_len(0xFFFE, 0xE000, 1_000_000));
        body.extend_from_slice(&[0; 8]);
        assert_eq!(
            check(&file("1.2.840.10008.1.2", &body)),
            Err(Unfit::LengthBeyondEnd)
        );
    }

    #[test]
    fn absurd_nesting_is_refused() {
        let mut body = Vec::new();
        for _ in 0..(MAX_DEPTH + 2) {
            body.extend(tag_len(0x0008, 0x1115, UNDEFINED));
            body.extend(tag_len(0xFFFE, 0xE000, UNDEFINED));
        }
        assert_eq!(
            check(&file("1.2.840.10008.1.2", &body)),
            Err(Unfit::TooDeep)
        );
    }

    #[test]
    fn a_header_cut_short_is_left_to_the_parser() {
        let body = vec![0x10, 0x00, 0x10, 0x00, b'P'];
        assert_eq!(check(&file(EXPLICIT, &body)), Ok(()));
    }
}
