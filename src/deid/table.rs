//! The standard's tables as data: PS3.15 Table E.1-1 (what the Basic Profile and each option do
//! to each attribute), Table E.3.10-1 (the safe private attributes) and CID 7050 (the method
//! codes), embedded from `templates/deid/*.psv` and parsed once.
//!
//! This module only reads the tables; [`super::rules`] turns them into one action per element.
//! The data files keep the edition and NEMA's acknowledgement in their headers.

use super::DeidOption;
use crate::finding::TagRef;
use std::collections::HashMap;
use std::sync::OnceLock;

const E1_1: &str = include_str!("../../templates/deid/e1_1.psv");
const E3_10_1: &str = include_str!("../../templates/deid/e3_10_1.psv");
const CID_7050: &str = include_str!("../../templates/deid/cid_7050.psv");

/// An action code as the standard writes it: one letter or a compound such as `X/Z/D`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Code {
    pub x: bool,
    pub z: bool,
    pub d: bool,
    pub k: bool,
    pub c: bool,
    pub u: bool,
    /// `U*`: a sequence whose UIDs are replaced (each item's attributes follow their own rows).
    pub u_star: bool,
}

impl Code {
    /// Parses `X`, `Z`, `D`, `K`, `C`, `U`, and compounds joined by `/` (`X/Z/U*`).
    pub fn parse(s: &str) -> Option<Self> {
        let mut c = Code::default();
        for part in s.split('/') {
            match part.trim() {
                "X" => c.x = true,
                "Z" => c.z = true,
                "D" => c.d = true,
                "K" => c.k = true,
                "C" => c.c = true,
                "U" => c.u = true,
                "U*" => c.u_star = true,
                _ => return None,
            }
        }
        Some(c)
    }

    /// The code as the standard writes it (`X/Z/D`).
    pub fn text(self) -> String {
        let mut parts = Vec::new();
        for (on, s) in [
            (self.x, "X"),
            (self.z, "Z"),
            (self.d, "D"),
            (self.k, "K"),
            (self.c, "C"),
            (self.u, "U"),
            (self.u_star, "U*"),
        ] {
            if on {
                parts.push(s);
            }
        }
        parts.join("/")
    }
}

/// Which elements one row of Table E.1-1 covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TagPattern {
    /// One tag.
    Exact(TagRef),
    /// A repeating group: `group & 0xFF00 == base`, and the element equals `element` (or any
    /// element when `None`): `(50xx,xxxx)`, `(60xx,3000)`, `(60xx,4000)`.
    Repeating { base: u16, element: Option<u16> },
    /// `(gggg,eeee) where gggg is odd`: every private attribute.
    Private,
}

impl TagPattern {
    fn parse(s: &str) -> Option<Self> {
        if s == "gggg,eeee" {
            return Some(TagPattern::Private);
        }
        let (g, e) = s.split_once(',')?;
        if let Some(prefix) = g.strip_suffix("xx") {
            let base = u16::from_str_radix(prefix, 16).ok()? << 8;
            let element = if e == "xxxx" {
                None
            } else {
                Some(u16::from_str_radix(e, 16).ok()?)
            };
            return Some(TagPattern::Repeating { base, element });
        }
        Some(TagPattern::Exact(TagRef(
            u16::from_str_radix(g, 16).ok()?,
            u16::from_str_radix(e, 16).ok()?,
        )))
    }

    /// True when `tag` is one of the elements this pattern covers.
    pub fn matches(self, tag: TagRef) -> bool {
        match self {
            TagPattern::Exact(t) => t == tag,
            TagPattern::Repeating { base, element } => {
                tag.0 & 0xFF00 == base
                    && tag.0.is_multiple_of(2)
                    && element.is_none_or(|e| e == tag.1)
            }
            TagPattern::Private => tag.0 % 2 == 1,
        }
    }
}

/// One row of Table E.1-1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub tag: TagPattern,
    /// The Basic Profile column.
    pub basic: Code,
    /// The option columns this row fills, in the table's order.
    pub options: Vec<(DeidOption, Code)>,
    pub retired: bool,
    /// "In Std. Comp. IOD": the attribute is part of a standard composite IOD.
    pub in_standard_iod: bool,
    pub name: &'static str,
}

impl Row {
    /// The code an option column gives this row, if it fills that column.
    pub fn option(&self, option: DeidOption) -> Option<Code> {
        self.options
            .iter()
            .find(|(o, _)| *o == option)
            .map(|(_, c)| *c)
    }
}

/// One creator's safe private elements in one group (Table E.3.10-1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafePrivate {
    pub creator: &'static str,
    pub group: u16,
    /// The low byte of each safe element (`ee` of `(gggg,xxee)`).
    pub elements: Vec<u8>,
}

/// The parsed tables.
#[derive(Debug)]
pub struct Tables {
    /// `2026d`.
    pub edition: &'static str,
    /// The NEMA acknowledgement line.
    pub acknowledgement: &'static str,
    pub rows: Vec<Row>,
    pub safe_private: Vec<SafePrivate>,
    /// CID 7050: (code value, code meaning), scheme `DCM`.
    pub method_codes: Vec<(&'static str, &'static str)>,
    exact: ExactIndex,
    /// The rows for repeating groups (`50xx`, `60xx`, ...), in table order: the few rows a tag
    /// the table does not list exactly is matched against.
    repeating: Vec<usize>,
    /// Whether some repeating row's group base has this high byte (`0x50` for `50xx`): most
    /// tags the table does not list skip the scan of [`Tables::repeating`].
    repeating_high: [bool; 256],
}

impl Tables {
    /// The row for a tag: an exact row first, then a repeating group; `None` for private tags
    /// (see [`Tables::private_row`]) and for attributes the table does not list.
    pub fn row(&self, tag: TagRef) -> Option<&Row> {
        self.row_index(tag).map(|i| &self.rows[i])
    }

    /// [`Tables::row`]'s index in [`Tables::rows`].
    pub fn row_index(&self, tag: TagRef) -> Option<usize> {
        if tag.0 % 2 == 1 {
            return None;
        }
        if let Some(i) = self.exact.get(tag) {
            return Some(i);
        }
        if !self.repeating_high[usize::from(tag.0 >> 8)] {
            return None;
        }
        self.repeating
            .iter()
            .copied()
            .find(|&i| self.rows[i].tag.matches(tag))
    }

    /// The row for private attributes.
    pub fn private_row(&self) -> &Row {
        self.rows
            .iter()
            .find(|r| r.tag == TagPattern::Private)
            .expect("Table E.1-1 has a private-attributes row")
    }

    /// True when Table E.3.10-1 lists element `(group, xx<low>)` of `creator` as safe.
    pub fn is_safe_private(&self, creator: &str, group: u16, low: u8) -> bool {
        let creator = creator.trim_end_matches([' ', '\0']);
        self.safe_private
            .iter()
            .any(|s| s.group == group && s.creator == creator && s.elements.contains(&low))
    }

    /// The meaning of a CID 7050 code.
    pub fn method_meaning(&self, code: &str) -> Option<&'static str> {
        self.method_codes
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, m)| *m)
    }
}

/// The tables, parsed on first use.
pub fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| parse().expect("the embedded de-identification tables are valid"))
}

fn header_value(text: &'static str, key: &str) -> &'static str {
    text.lines()
        .filter_map(|l| l.strip_prefix('#'))
        .find_map(|l| l.trim().strip_prefix(key))
        .map(|v| v.trim())
        .unwrap_or("")
}

fn data_lines(text: &'static str) -> impl Iterator<Item = &'static str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
}

fn option_key(key: &str) -> Option<DeidOption> {
    Some(match key {
        "sp" => DeidOption::RetainSafePrivate,
        "uid" => DeidOption::RetainUids,
        "dev" => DeidOption::RetainDeviceIdentity,
        "inst" => DeidOption::RetainInstitutionIdentity,
        "pat" => DeidOption::RetainPatientCharacteristics,
        "full" => DeidOption::RetainLongFullDates,
        "mod" => DeidOption::RetainLongModifiedDates,
        "desc" => DeidOption::CleanDescriptors,
        "sc" => DeidOption::CleanStructuredContent,
        "gfx" => DeidOption::CleanGraphics,
        _ => return None,
    })
}

fn parse() -> Result<Tables, String> {
    let mut rows = Vec::new();
    for line in data_lines(E1_1) {
        let f: Vec<&'static str> = line.split('|').collect();
        let [tag, basic, options, flags, name] = f[..] else {
            return Err(format!("E.1-1 row has {} fields: {line}", f.len()));
        };
        let tag = TagPattern::parse(tag).ok_or_else(|| format!("E.1-1 bad tag: {line}"))?;
        let basic = Code::parse(basic).ok_or_else(|| format!("E.1-1 bad code: {line}"))?;
        let mut opts = Vec::new();
        if options != "-" {
            for kv in options.split(',') {
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("E.1-1 bad option: {line}"))?;
                let o = option_key(k).ok_or_else(|| format!("E.1-1 bad option key: {line}"))?;
                let c = Code::parse(v).ok_or_else(|| format!("E.1-1 bad option code: {line}"))?;
                opts.push((o, c));
            }
        }
        rows.push(Row {
            tag,
            basic,
            options: opts,
            retired: flags.contains('r'),
            in_standard_iod: flags.contains('i'),
            name,
        });
    }
    let mut exact = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let TagPattern::Exact(t) = r.tag
            && exact.insert(t, i).is_some()
        {
            return Err(format!("E.1-1 lists {t} twice"));
        }
    }
    let repeating: Vec<usize> = (0..rows.len())
        .filter(|&i| matches!(rows[i].tag, TagPattern::Repeating { .. }))
        .collect();
    let mut repeating_high = [false; 256];
    for &i in &repeating {
        if let TagPattern::Repeating { base, .. } = rows[i].tag {
            repeating_high[usize::from(base >> 8)] = true;
        }
    }
    let mut safe_private = Vec::new();
    for line in data_lines(E3_10_1) {
        let f: Vec<&'static str> = line.split('|').collect();
        let [creator, group, elements] = f[..] else {
            return Err(format!("E.3.10-1 row has {} fields: {line}", f.len()));
        };
        let group = u16::from_str_radix(group, 16).map_err(|_| format!("E.3.10-1: {line}"))?;
        let elements = elements
            .split_whitespace()
            .map(|e| u8::from_str_radix(e, 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| format!("E.3.10-1: {line}"))?;
        safe_private.push(SafePrivate {
            creator,
            group,
            elements,
        });
    }
    let method_codes = data_lines(CID_7050)
        .map(|l| l.split_once('|').ok_or_else(|| format!("CID 7050: {l}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Tables {
        edition: header_value(E1_1, "Edition:"),
        acknowledgement: header_value(E1_1, "Acknowledgement:"),
        rows,
        safe_private,
        method_codes,
        exact: ExactIndex::new(&exact),
        repeating,
        repeating_high,
    })
}

/// The exact rows by tag, looked up for every element of every file: open addressing on a
/// multiplicative hash of the 32-bit tag (a `HashMap`'s SipHash cost more than the rest of the
/// lookup). A slot holds the tag and its row index + 1 (0: empty); a quarter of the slots at
/// most are used, so a probe ends soon.
#[derive(Debug)]
struct ExactIndex {
    slots: Vec<(u32, u32)>,
    shift: u32,
}

impl ExactIndex {
    fn new(rows: &HashMap<TagRef, usize>) -> Self {
        let size = (rows.len() * 4).next_power_of_two().max(16);
        let mut index = ExactIndex {
            slots: vec![(0, 0); size],
            shift: 32 - size.trailing_zeros(),
        };
        let mask = size - 1;
        for (t, &row) in rows {
            let tag = key(*t);
            let mut i = index.slot(tag);
            while index.slots[i].1 != 0 {
                i = (i + 1) & mask;
            }
            index.slots[i] = (tag, row as u32 + 1);
        }
        index
    }

    fn slot(&self, tag: u32) -> usize {
        (tag.wrapping_mul(0x9E37_79B1) >> self.shift) as usize
    }

    fn get(&self, tag: TagRef) -> Option<usize> {
        let tag = key(tag);
        let mask = self.slots.len() - 1;
        let mut i = self.slot(tag);
        loop {
            let (t, row) = self.slots[i];
            if row == 0 {
                return None;
            }
            if t == tag {
                return Some(row as usize - 1);
            }
            i = (i + 1) & mask;
        }
    }
}

fn key(t: TagRef) -> u32 {
    (u32::from(t.0) << 16) | u32::from(t.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(tag: TagRef) -> String {
        tables().row(tag).unwrap().basic.text()
    }

    #[test]
    fn the_tables_have_their_edition_and_row_counts() {
        let t = tables();
        assert_eq!(t.edition, "2026d");
        assert!(t.acknowledgement.contains("NEMA"), "{}", t.acknowledgement);
        assert_eq!(t.rows.len(), 657);
        let safe: usize = t.safe_private.iter().map(|s| s.elements.len()).sum();
        assert_eq!(safe, 479);
        assert_eq!(t.method_codes.len(), 13);
        assert_eq!(
            t.method_meaning("113111"),
            Some("Retain Safe Private Option")
        );
    }

    #[test]
    fn a_dozen_known_entries() {
        assert_eq!(code(TagRef(0x0008, 0x0050)), "Z"); // AccessionNumber
        assert_eq!(code(TagRef(0x0010, 0x0010)), "Z"); // PatientName
        assert_eq!(code(TagRef(0x0010, 0x0020)), "Z/D"); // PatientID
        assert_eq!(code(TagRef(0x0010, 0x0030)), "Z"); // PatientBirthDate
        assert_eq!(code(TagRef(0x0008, 0x0080)), "X/Z/D"); // InstitutionName
        assert_eq!(code(TagRef(0x0018, 0x1000)), "X/Z/D"); // DeviceSerialNumber
        assert_eq!(code(TagRef(0x0020, 0x000D)), "U"); // StudyInstanceUID
        assert_eq!(code(TagRef(0x0008, 0x1140)), "X/Z/U*"); // ReferencedImageSequence
        assert_eq!(code(TagRef(0x0018, 0x1030)), "X/D"); // ProtocolName
        assert_eq!(code(TagRef(0x0040, 0x0275)), "X"); // RequestAttributesSequence
        assert_eq!(code(TagRef(0x0002, 0x0003)), "U"); // MediaStorageSOPInstanceUID
        assert_eq!(code(TagRef(0x6000, 0x3000)), "X"); // OverlayData, repeating group
        assert_eq!(code(TagRef(0x5012, 0x0005)), "X"); // curve data, any element
        let acq = tables().row(TagRef(0x0008, 0x0022)).unwrap();
        assert_eq!(acq.name, "Acquisition Date");
        assert_eq!(
            acq.option(DeidOption::RetainLongModifiedDates),
            Code::parse("C")
        );
        assert_eq!(
            acq.option(DeidOption::RetainLongFullDates),
            Code::parse("K")
        );
        let age = tables().row(TagRef(0x0010, 0x1010)).unwrap();
        assert_eq!(
            age.option(DeidOption::RetainPatientCharacteristics),
            Code::parse("K")
        );
        assert!(tables().row(TagRef(0x0028, 0x0010)).is_none()); // Rows: not listed
        assert!(tables().row(TagRef(0x0029, 0x1010)).is_none()); // private
        assert_eq!(
            tables().private_row().option(DeidOption::RetainSafePrivate),
            Code::parse("C")
        );
    }

    #[test]
    fn safe_private_is_by_creator_and_element_byte() {
        let t = tables();
        assert!(t.is_safe_private("SIEMENS MR HEADER", 0x0019, 0x0C));
        assert!(t.is_safe_private("SIEMENS MR HEADER ", 0x0019, 0x0C));
        assert!(!t.is_safe_private("SIEMENS MR HEADER", 0x0019, 0x08));
        assert!(!t.is_safe_private("SIEMENS CSA HEADER", 0x0029, 0x10));
        assert!(t.is_safe_private("GEMS_PARM_01", 0x0043, 0x39));
    }

    #[test]
    fn the_exact_index_finds_every_exact_row_and_nothing_else() {
        let t = tables();
        let mut listed = 0;
        for (i, r) in t.rows.iter().enumerate() {
            if let TagPattern::Exact(tag) = r.tag {
                assert_eq!(t.exact.get(tag), Some(i), "{tag}");
                listed += 1;
            }
        }
        let by_tag: HashMap<TagRef, usize> = (0..t.rows.len())
            .filter_map(|i| match t.rows[i].tag {
                TagPattern::Exact(tag) => Some((tag, i)),
                _ => None,
            })
            .collect();
        let mut found = 0;
        for g in (0..=0xFFFFu32).step_by(2) {
            for e in [0u16, 1, 0x10, 0x20, 0x30, 0x1000, 0x1010, 0xA160, 0xFFFF] {
                let tag = TagRef(g as u16, e);
                let want = by_tag.get(&tag).copied();
                assert_eq!(t.exact.get(tag), want, "{tag}");
                found += usize::from(want.is_some());
            }
        }
        assert!(listed > 500 && found > 0, "{listed} {found}");
        // `row` as first written: an exact row, else the first repeating row that matches.
        for g in 0..=0xFFFFu16 {
            for e in [0u16, 0x0010, 0x3000, 0x4000, 0x1234] {
                let tag = TagRef(g, e);
                let want = if g % 2 == 1 {
                    None
                } else {
                    by_tag.get(&tag).map(|&i| &t.rows[i]).or_else(|| {
                        t.rows.iter().find(|r| {
                            matches!(r.tag, TagPattern::Repeating { .. }) && r.tag.matches(tag)
                        })
                    })
                };
                assert_eq!(t.row(tag), want, "{tag}");
            }
        }
    }

    #[test]
    fn codes_round_trip() {
        for s in ["X", "X/Z", "X/Z/D", "Z/D", "X/Z/U*", "K", "C", "U"] {
            assert_eq!(Code::parse(s).unwrap().text(), s);
        }
        assert!(Code::parse("Q").is_none());
    }
}
