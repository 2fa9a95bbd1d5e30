//! Private blocks: which creator element reserves a private tag's block, and how a creator's
//! name is read. The one lookup the writer (byte spans and the deflated path) and the verifier
//! (the CSA sweep) share.
//!
//! A private data element `(gggg,xxyy)` (odd group, element at least `0x1000`) belongs to the
//! block reserved by the creator element `(gggg,00xx)`, whose value names the block
//! (`SIEMENS CSA HEADER`).

/// The tag of the creator element reserving `tag`'s block, or `None` when `tag` is not a
/// private data element (even group, or a creator element itself).
pub fn creator_tag(tag: (u16, u16)) -> Option<(u16, u16)> {
    let (group, element) = tag;
    (group % 2 == 1 && element >= 0x1000).then_some((group, element >> 8))
}

/// A creator's name from its value bytes: UTF-8 (else Latin-1) with padding (spaces, NULs)
/// trimmed at both ends.
pub fn creator_name(value: &[u8]) -> String {
    let text = match std::str::from_utf8(value) {
        Ok(s) => s.to_string(),
        Err(_) => value.iter().map(|&b| char::from(b)).collect(),
    };
    text.trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

/// The creator of `tag`'s block in a parsed data set, if `tag` is private and the creator
/// element holds text.
pub fn creator_of(obj: &dicom_object::InMemDicomObject, tag: (u16, u16)) -> Option<String> {
    let (g, e) = creator_tag(tag)?;
    let element = obj.get(dicom_core::Tag(g, e))?;
    let bytes = element.value().to_bytes().ok()?;
    Some(creator_name(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dicom_core::{DataElement, Tag, VR};

    #[test]
    fn the_creator_of_a_private_element() {
        assert_eq!(creator_tag((0x0029, 0x1009)), Some((0x0029, 0x0010)));
        assert_eq!(creator_tag((0x0033, 0x10ff)), Some((0x0033, 0x0010)));
        assert_eq!(creator_tag((0x0029, 0x2201)), Some((0x0029, 0x0022)));
        assert_eq!(creator_tag((0x0010, 0x1010)), None);
        assert_eq!(creator_tag((0x0029, 0x0010)), None);
    }

    #[test]
    fn creator_names_lose_their_padding() {
        assert_eq!(creator_name(b"SIEMENS CSA HEADER\0"), "SIEMENS CSA HEADER");
        assert_eq!(creator_name(b" ACME 1.0 "), "ACME 1.0");
        assert_eq!(creator_name(b"caf\xe9"), "caf\u{e9}");
        let mut obj = dicom_object::InMemDicomObject::new_empty();
        obj.put(DataElement::new(
            Tag(0x0029, 0x0010),
            VR::LO,
            "SIEMENS CSA HEADER",
        ));
        assert_eq!(
            creator_of(&obj, (0x0029, 0x1010)).as_deref(),
            Some("SIEMENS CSA HEADER")
        );
        assert_eq!(creator_of(&obj, (0x0031, 0x1010)), None);
        assert_eq!(creator_of(&obj, (0x0010, 0x0010)), None);
    }
}
