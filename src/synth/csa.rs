//! Siemens CSA2 ("SV10") header blobs, the binary payload of private elements (0029,1010) (image
//! header) and (0029,1020) (series header). Readers such as dcm2niix and nibabel parse them, so
//! the synthetic ones follow the real layout; the values are harmless and hold no PHI.

/// One CSA tag: a name, a VR and its string values.
struct CsaTag<'a> {
    name: &'a str,
    vr: &'a str,
    values: Vec<String>,
}

/// Encodes tags in the CSA2 layout: `SV10`, `04 03 02 01`, tag count, `77`, then per tag a
/// 64-byte name, VM, 4-byte VR, SyngoDT, item count, `77`, and per item four lengths and the
/// NUL-terminated value padded to a multiple of 4.
fn encode(tags: &[CsaTag<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(b"SV10");
    out.extend_from_slice(&[4, 3, 2, 1]);
    out.extend_from_slice(&(tags.len() as u32).to_le_bytes());
    out.extend_from_slice(&77u32.to_le_bytes());
    for tag in tags {
        let mut name = [0u8; 64];
        name[..tag.name.len()].copy_from_slice(tag.name.as_bytes());
        out.extend_from_slice(&name);
        out.extend_from_slice(&(tag.values.len() as i32).to_le_bytes());
        let mut vr = [0u8; 4];
        vr[..tag.vr.len()].copy_from_slice(tag.vr.as_bytes());
        out.extend_from_slice(&vr);
        out.extend_from_slice(&0i32.to_le_bytes()); // SyngoDT
        out.extend_from_slice(&(tag.values.len() as i32).to_le_bytes());
        out.extend_from_slice(&77i32.to_le_bytes());
        for value in &tag.values {
            let len = value.len() as i32 + 1; // the value and its NUL
            for x in [len, len, 77, len] {
                out.extend_from_slice(&x.to_le_bytes());
            }
            out.extend_from_slice(value.as_bytes());
            out.push(0);
            while out.len() % 4 != 0 {
                out.push(0);
            }
        }
    }
    out
}

/// The image header (0029,1010) of one slice.
pub(crate) fn image_header(slice: u32, rows: u16) -> Vec<u8> {
    encode(&[
        CsaTag {
            name: "EchoLinePosition",
            vr: "IS",
            values: vec![(rows / 2).to_string()],
        },
        CsaTag {
            name: "ProtocolSliceNumber",
            vr: "IS",
            values: vec![slice.to_string()],
        },
        CsaTag {
            name: "PhaseEncodingDirectionPositive",
            vr: "IS",
            values: vec!["1".into()],
        },
        CsaTag {
            name: "SliceNormalVector",
            vr: "FD",
            values: vec!["0.0".into(), "0.0".into(), "1.0".into()],
        },
        CsaTag {
            name: "ImaCoilString",
            vr: "LO",
            values: vec!["HEA;HEP".into()],
        },
    ])
}

/// The series header (0029,1020): a short `MrPhoenixProtocol` with an ASCCONV block.
pub(crate) fn series_header(protocol: &str) -> Vec<u8> {
    let ascconv = format!(
        "### ASCCONV BEGIN ###\n\
         tProtocolName\t = \"\"{protocol}\"\"\n\
         sProtConsistencyInfo.tBaselineString\t = \"\"N4_VB17A_LATEST_SYNTH\"\"\n\
         sKSpace.ucDimension\t = 0x2\n\
         ### ASCCONV END ###\n"
    );
    encode(&[
        CsaTag {
            name: "UsedChannelMask",
            vr: "UL",
            values: vec!["3".into()],
        },
        CsaTag {
            name: "MrPhoenixProtocol",
            vr: "UN",
            values: vec![ascconv],
        },
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[test]
    fn header_has_the_csa2_signature_and_tag_count() {
        let b = image_header(3, 240);
        assert_eq!(&b[..8], b"SV10\x04\x03\x02\x01");
        assert_eq!(u32_at(&b, 8), 5);
        assert_eq!(u32_at(&b, 12), 77);
        assert_eq!(&b[16..32], b"EchoLinePosition");
        assert_eq!(b.len() % 4, 0);
    }

    #[test]
    fn item_lengths_cover_value_and_nul() {
        let b = image_header(3, 240);
        // First tag's first item starts after the 16-byte preamble and the 84-byte tag header.
        let item = 16 + 84;
        assert_eq!(u32_at(&b, item + 4), 4); // "120" + NUL
        assert_eq!(&b[item + 16..item + 20], b"120\0");
    }
}
