//! One action per element: the Basic Profile and its options (Table E.1-1) resolved for a chosen
//! set of options, plus a profile file's own overrides.
//!
//! ```
//! use anontrack::deid::{Act, Base, DeidOption, Rules};
//! use anontrack::finding::TagRef;
//! use dicom_core::VR;
//! let rules = Rules::resolve(Base::Basic, &[DeidOption::RetainLongModifiedDates]);
//! assert_eq!(rules.action(TagRef(0x0008, 0x0020), VR::DA), Act::ShiftDate);
//! assert_eq!(rules.action(TagRef(0x0020, 0x000D), VR::UI), Act::ReplaceUid);
//! assert!(!rules.keeps_private("SIEMENS CSA HEADER"));
//! ```
//!
//! # How the compound codes resolve
//!
//! The standard lets a compound code (`X/Z`, `X/D`, `Z/D`, `X/Z/D`) depend on the attribute's
//! type in the file's IOD. anontrack resolves them without IOD data, to the least destructive
//! choice that stays valid whatever the type:
//! - `X/Z` -> [`Act::Empty`] (an empty value is valid for Type 2 and 3);
//! - `X/D` and `Z/D` -> [`Act::Dummy`] (a dummy is valid even where the attribute is Type 1);
//! - `X/Z/D` -> [`Act::Empty`], except the attributes that are Type 1 in the common MR/CT IODs
//!   (DeviceSerialNumber and AcquisitionDateTime, Type 1 in the enhanced multi-frame IODs), which
//!   get [`Act::Dummy`];
//! - `X/Z/U*` (a sequence of references) -> [`Act::Keep`]: the sequence stays and every
//!   attribute inside follows its own row (the UIDs in it are `U`).
//!
//! Options: when an option the profile selects fills a row's column, its code replaces the
//! Basic Profile's. Where several selected options fill the row, a date option decides for
//! temporal rows (`retain-long-modified-dates` over `retain-long-full-dates`: a date is shifted
//! even where `retain-device-identity` would keep it), otherwise the most retaining code wins
//! (`K` over `C`). Under `retain-long-modified-dates`, the temporal rows' `C` means: DA and DT
//! values shifted ([`Act::ShiftDate`]); TM and anything else kept (times of day do not move).
//!
//! VR-specific outcomes: a sequence cannot hold a dummy, so `D` on an SQ empties it (zero
//! items), except for the trees in [`KEPT_TREES`] (an SR's ContentSequence, its
//! VerifyingObserverSequence), which an empty value would make invalid: they stay, every
//! attribute inside follows its own row, and TextValue (not in the table) gets a dummy, or is
//! cleaned under `clean-structured-content`; and `U`, `K` or `C` on an SQ keep it with every attribute inside following its own
//! row. `D` on a UI is a keyed UID. `D` on a binary VR (OB, OW, US, FD, ...) is an empty value.
//!
//! Overlays: Table E.1-1 removes Overlay Data and Overlay Comments; without them the rest of
//! the overlay plane (rows, columns, type, origin) would be an invalid Overlay Plane module, so
//! every element of an overlay group `(60xx,eeee)` is removed unless `clean-graphics` is
//! selected (then Overlay Data is [`Act::Clean`] and the plane stays).
//!
//! PatientName and PatientID are [`Act::Pseudonym`] (the sheet's ID) in every profile.
//!
//! Private attributes (odd groups): [`Act::Remove`], unless `retain-safe-private` is selected
//! and the element's block belongs to a creator on the safe list (Table E.3.10-1, by creator
//! and element byte) or to one of the Siemens blocks that conversion needs
//! ([`SIEMENS_CONVERSION_BLOCKS`], kept whole). A kept private value still undergoes the
//! same-length substitution of the participant's identifiers described in [`crate::deid`].

use super::table::{Code, Row, TagPattern, tables};
use super::{Act, DeidOption};
use crate::finding::TagRef;
use dicom_core::VR;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The Siemens private blocks that dcm2niix and heudiconv read (CSA headers, MR header), kept
/// whole under `retain-safe-private`.
pub const SIEMENS_CONVERSION_BLOCKS: [&str; 4] = [
    "SIEMENS CSA HEADER",
    "SIEMENS MEDCOM HEADER",
    "SIEMENS MEDCOM HEADER2",
    "SIEMENS MR HEADER",
];

/// The options the `neuro` profile adds to `basic`, in ascending code order.
pub const NEURO_OPTIONS: [DeidOption; 5] = [
    DeidOption::CleanDescriptors,
    DeidOption::RetainLongModifiedDates,
    DeidOption::RetainPatientCharacteristics,
    DeidOption::RetainDeviceIdentity,
    DeidOption::RetainSafePrivate,
];

/// Attributes whose `X/Z/D` resolves to a dummy because they are Type 1 in common IODs.
const TYPE1_IN_COMMON_IODS: [TagRef; 2] = [
    TagRef(0x0018, 0x1000), // DeviceSerialNumber (Enhanced General Equipment)
    TagRef(0x0008, 0x002A), // AcquisitionDateTime (enhanced MR/CT image)
];

/// Sequences whose Table E.1-1 code `D` asks for a dummy tree: anontrack has none to offer and
/// an empty one is an invalid Type 1 or 1C attribute (an SR's document content, a verified
/// report's observers), so the tree stays and every attribute inside follows its own row
/// (names and dates get dummies, UIDs keyed ones, [`TEXT_VALUE`] a dummy).
pub const KEPT_TREES: [TagRef; 2] = [
    TagRef(0x0040, 0xA730), // ContentSequence
    TagRef(0x0040, 0xA073), // VerifyingObserverSequence
];

/// TextValue (0040,A160), the free text of an SR content item.
pub const TEXT_VALUE: TagRef = TagRef(0x0040, 0xA160);

/// The standard profile a rule set starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Base {
    /// The Basic Application Level Confidentiality Profile alone.
    Basic,
    /// `basic` plus [`NEURO_OPTIONS`]: what an MRI lab needs to convert and analyse.
    Neuro,
}

impl Base {
    /// `basic` or `neuro`.
    pub fn name(self) -> &'static str {
        match self {
            Base::Basic => "basic",
            Base::Neuro => "neuro",
        }
    }

    /// Parses `basic` or `neuro`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "basic" => Some(Base::Basic),
            "neuro" => Some(Base::Neuro),
            _ => None,
        }
    }

    /// The options the base selects by itself.
    pub fn options(self) -> &'static [DeidOption] {
        match self {
            Base::Basic => &[],
            Base::Neuro => &NEURO_OPTIONS,
        }
    }
}

/// Refuses option sets the standard does not allow together (both longitudinal date options).
pub fn check_options(options: &[DeidOption]) -> Result<(), String> {
    if options.contains(&DeidOption::RetainLongFullDates)
        && options.contains(&DeidOption::RetainLongModifiedDates)
    {
        return Err(
            "options `retain-long-full-dates` and `retain-long-modified-dates` exclude \
                    each other (keep dates as they are, or shift them): choose one"
                .into(),
        );
    }
    Ok(())
}

/// A resolved rule set: which action each element undergoes.
#[derive(Clone)]
pub struct Rules {
    name: String,
    base: Base,
    options: BTreeSet<DeidOption>,
    /// `options` as bits ([`bit`]): [`Rules::has`] is asked for every element of every file.
    mask: u16,
    /// [`Rules::row_action`] of every row of Table E.1-1 (by index), for a DA or DT value and
    /// for any other VR: resolved once, as `options` only changes in [`Rules::resolve`].
    row_acts: Arc<[(Act, Act)]>,
    overrides: BTreeMap<TagRef, Act>,
}

/// What `#[derive(PartialEq)]` compared before `mask` and `row_acts` (which only repeat
/// `options`) were added.
impl PartialEq for Rules {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.base == other.base
            && self.options == other.options
            && self.overrides == other.overrides
    }
}

impl Eq for Rules {}

/// What `#[derive(Debug)]` printed before `mask` and `row_acts` were added.
impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("name", &self.name)
            .field("base", &self.base)
            .field("options", &self.options)
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// An option's bit in [`Rules`]'s mask.
fn bit(option: DeidOption) -> u16 {
    1 << (option as u16)
}

impl Rules {
    /// The rules of `base` with `options` added. If both date options are given (see
    /// [`check_options`], which callers run first to refuse that), modified dates win.
    pub fn resolve(base: Base, options: &[DeidOption]) -> Self {
        let mut set: BTreeSet<DeidOption> = base.options().iter().copied().collect();
        set.extend(options.iter().copied());
        if set.contains(&DeidOption::RetainLongModifiedDates) {
            set.remove(&DeidOption::RetainLongFullDates);
        }
        let mut rules = Self {
            name: base.name().to_string(),
            base,
            mask: set.iter().fold(0, |m, o| m | bit(*o)),
            options: set,
            row_acts: Arc::new([]),
            overrides: BTreeMap::new(),
        };
        rules.row_acts = tables()
            .rows
            .iter()
            .map(|row| {
                let tag = row_tag(row);
                (
                    rules.row_action(tag, row, VR::DA),
                    rules.row_action(tag, row, VR::LO),
                )
            })
            .collect();
        rules
    }

    /// Names the rule set (a profile file's `name`), as DeidentificationMethod will say it.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_string();
        self
    }

    /// Gives `tag` this action whatever the table says (a profile file's own rule).
    pub fn with_override(mut self, tag: TagRef, act: Act) -> Self {
        self.overrides.insert(tag, act);
        self
    }

    /// The profile's name (`basic`, `neuro` or a profile file's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The base profile.
    pub fn base(&self) -> Base {
        self.base
    }

    /// The selected options, in ascending CID 7050 code order.
    pub fn options(&self) -> Vec<DeidOption> {
        DeidOption::ALL
            .into_iter()
            .filter(|o| self.options.contains(o))
            .collect()
    }

    /// True when `option` is selected.
    pub fn has(&self, option: DeidOption) -> bool {
        self.mask & bit(option) != 0
    }

    /// The overrides a profile file added, by tag.
    pub fn overrides(&self) -> &BTreeMap<TagRef, Act> {
        &self.overrides
    }

    /// The action for a public (even-group) element of this VR, at any depth. Private elements
    /// need their creator: see [`Rules::private_action`] (this returns its answer without one).
    pub fn action(&self, tag: TagRef, vr: VR) -> Act {
        if let Some(act) = self.overrides.get(&tag) {
            return for_vr(*act, vr);
        }
        if tag.0 % 2 == 1 {
            return self.private_action(tag, None);
        }
        if is_overlay_group(tag.0) && !self.has(DeidOption::CleanGraphics) {
            // Overlay Data goes (X): the rest of its plane would be an invalid module without it.
            return Act::Remove;
        }
        if tag.1 == 0x0000 {
            return Act::Keep; // group lengths are recomputed, never judged
        }
        if tag == TagRef(0x0010, 0x0010) || tag == TagRef(0x0010, 0x0020) {
            return Act::Pseudonym;
        }
        if tag == TEXT_VALUE {
            // Not in Table E.1-1 (the whole content tree is `D` there): free text in a kept
            // content tree may name anyone, so it gets a dummy unless it is to be cleaned.
            return if self.has(DeidOption::CleanStructuredContent) {
                Act::Clean
            } else {
                for_vr(Act::Dummy, vr)
            };
        }
        if KEPT_TREES.contains(&tag)
            && vr == VR::SQ
            && let Some(i) = tables().row_index(tag)
        {
            return match self.row_act(i, vr) {
                Act::Dummy => Act::Keep,
                a => for_vr(a, vr),
            };
        }
        match tables().row_index(tag) {
            Some(i) => for_vr(self.row_act(i, vr), vr),
            None => Act::Keep,
        }
    }

    /// [`Rules::row_action`] of row `i` for `vr`, as resolved in [`Rules::resolve`].
    fn row_act(&self, i: usize, vr: VR) -> Act {
        let (date, other) = self.row_acts[i];
        if matches!(vr, VR::DA | VR::DT) {
            date
        } else {
            other
        }
    }

    /// The action for a private element whose block belongs to `creator` (`None` when the file
    /// reserves no block for it). The creator elements `(gggg,0010-00FF)` themselves follow the
    /// block they reserve: pass that block's creator.
    pub fn private_action(&self, tag: TagRef, creator: Option<&str>) -> Act {
        if let Some(act) = self.overrides.get(&tag) {
            return *act;
        }
        let Some(creator) = creator else {
            return Act::Remove;
        };
        if !self.has(DeidOption::RetainSafePrivate) || tag.1 < 0x0010 {
            return Act::Remove;
        }
        if (0x0010..=0x00FF).contains(&tag.1) {
            return if self.keeps_private(creator) {
                Act::Keep
            } else {
                Act::Remove
            };
        }
        let creator = creator.trim_end_matches([' ', '\0']);
        if SIEMENS_CONVERSION_BLOCKS.contains(&creator)
            || tables().is_safe_private(creator, tag.0, (tag.1 & 0xFF) as u8)
        {
            Act::Keep
        } else {
            Act::Remove
        }
    }

    /// True when some element of `creator`'s blocks is kept (so its creator element stays).
    pub fn keeps_private(&self, creator: &str) -> bool {
        let creator = creator.trim_end_matches([' ', '\0']);
        self.has(DeidOption::RetainSafePrivate)
            && (SIEMENS_CONVERSION_BLOCKS.contains(&creator)
                || tables().safe_private.iter().any(|s| s.creator == creator))
    }

    /// DeidentificationMethodCodeSequence's codes: `113100`, then one per option in ascending
    /// order, each with its CID 7050 meaning.
    pub fn method_codes(&self) -> Vec<(&'static str, &'static str)> {
        let t = tables();
        std::iter::once(super::BASIC_PROFILE_CODE)
            .chain(self.options().into_iter().map(|o| o.code()))
            .map(|c| (c, t.method_meaning(c).unwrap_or("")))
            .collect()
    }

    /// DeidentificationMethod's text: `anontrack <version> <profile>`.
    pub fn method_text(&self) -> String {
        format!("anontrack {} {}", env!("CARGO_PKG_VERSION"), self.name)
    }

    /// A row's action for an element of `tag` (one the row covers) and `vr`: it depends on `vr`
    /// only through whether it is DA or DT, and on `tag` only through [`TYPE1_IN_COMMON_IODS`]
    /// (rows of one tag each).
    fn row_action(&self, tag: TagRef, row: &Row, vr: VR) -> Act {
        let temporal = row.option(DeidOption::RetainLongModifiedDates).is_some()
            || row.option(DeidOption::RetainLongFullDates).is_some();
        if temporal && self.has(DeidOption::RetainLongModifiedDates) {
            return if matches!(vr, VR::DA | VR::DT) {
                Act::ShiftDate
            } else {
                Act::Keep
            };
        }
        if temporal && self.has(DeidOption::RetainLongFullDates) {
            return Act::Keep;
        }
        // The codes of the selected options' columns (no list built: this runs per element).
        let chosen = || {
            row.options
                .iter()
                .filter(|(o, _)| self.has(*o))
                .map(|(_, c)| *c)
        };
        if chosen().any(|c| c.k) {
            return Act::Keep;
        }
        if chosen().any(|c| c.c) {
            return Act::Clean;
        }
        basic_action(tag, row.basic)
    }
}

/// A tag `row` covers: its own for an exact row; for a repeating group or the private row,
/// one of its tags (never one of [`TYPE1_IN_COMMON_IODS`], the only tags
/// [`Rules::row_action`] tells apart within a row).
fn row_tag(row: &Row) -> TagRef {
    match row.tag {
        TagPattern::Exact(t) => t,
        TagPattern::Repeating { base, element } => TagRef(base, element.unwrap_or(0)),
        TagPattern::Private => TagRef(0x0009, 0x1000),
    }
}

/// The Basic Profile's code as one action (see the module docs for the compound codes).
fn basic_action(tag: TagRef, c: Code) -> Act {
    if c.u_star {
        return Act::Keep;
    }
    if c.u {
        return Act::ReplaceUid;
    }
    if c.k {
        return Act::Keep;
    }
    if c.c {
        return Act::Clean;
    }
    match (c.x, c.z, c.d) {
        (true, false, false) => Act::Remove,
        (_, true, false) => Act::Empty,
        (false, false, true) | (true, false, true) | (false, true, true) => Act::Dummy,
        (true, true, true) if TYPE1_IN_COMMON_IODS.contains(&tag) => Act::Dummy,
        (true, true, true) => Act::Empty,
        (false, false, false) => Act::Keep,
    }
}

/// The overlay plane groups `(6000-601E,xxxx)`.
fn is_overlay_group(group: u16) -> bool {
    (0x6000..=0x601E).contains(&group) && group.is_multiple_of(2)
}

/// Adjusts an action to what the VR can hold (see the module docs).
fn for_vr(act: Act, vr: VR) -> Act {
    match (act, vr) {
        (Act::Dummy, VR::SQ) => Act::Empty,
        (Act::ReplaceUid, VR::SQ) => Act::Keep,
        (Act::ShiftDate, v) if !matches!(v, VR::DA | VR::DT) => Act::Keep,
        (Act::Dummy, VR::UI) => Act::ReplaceUid,
        (Act::Dummy, v) if is_binary(v) => Act::Empty,
        (a, _) => a,
    }
}

/// VRs whose value is binary, not text: a text dummy or replacement is never written in them.
pub fn is_binary(vr: VR) -> bool {
    matches!(
        vr,
        VR::OB
            | VR::OD
            | VR::OF
            | VR::OL
            | VR::OV
            | VR::OW
            | VR::UN
            | VR::US
            | VR::SS
            | VR::UL
            | VR::SL
            | VR::UV
            | VR::SV
            | VR::FL
            | VR::FD
            | VR::AT
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic() -> Rules {
        Rules::resolve(Base::Basic, &[])
    }

    #[test]
    fn basic_resolves_the_mri_attributes_that_matter() {
        let r = basic();
        let t = |g, e, vr| r.action(TagRef(g, e), vr);
        assert_eq!(t(0x0010, 0x0010, VR::PN), Act::Pseudonym);
        assert_eq!(t(0x0010, 0x0020, VR::LO), Act::Pseudonym);
        assert_eq!(t(0x0010, 0x0030, VR::DA), Act::Empty); // Z
        assert_eq!(t(0x0008, 0x0050, VR::SH), Act::Empty); // AccessionNumber Z
        assert_eq!(t(0x0008, 0x0080, VR::LO), Act::Empty); // InstitutionName X/Z/D
        assert_eq!(t(0x0008, 0x0081, VR::ST), Act::Remove); // InstitutionAddress X
        assert_eq!(t(0x0018, 0x1000, VR::LO), Act::Dummy); // DeviceSerialNumber, Type 1
        assert_eq!(t(0x0008, 0x0021, VR::DA), Act::Dummy); // SeriesDate X/D
        assert_eq!(t(0x0008, 0x0020, VR::DA), Act::Empty); // StudyDate Z
        assert_eq!(t(0x0008, 0x0023, VR::DA), Act::Dummy); // ContentDate Z/D
        assert_eq!(t(0x0020, 0x000E, VR::UI), Act::ReplaceUid);
        assert_eq!(t(0x0002, 0x0003, VR::UI), Act::ReplaceUid);
        assert_eq!(t(0x0008, 0x1140, VR::SQ), Act::Keep); // X/Z/U*
        assert_eq!(t(0x0008, 0x1155, VR::UI), Act::ReplaceUid);
        assert_eq!(t(0x0040, 0x0275, VR::SQ), Act::Remove);
        assert_eq!(t(0x0010, 0x1010, VR::AS), Act::Remove); // PatientAge X
        assert_eq!(t(0x0008, 0x103E, VR::LO), Act::Remove); // SeriesDescription X
        assert_eq!(t(0x0028, 0x0010, VR::US), Act::Keep); // Rows: not in the table
        assert_eq!(t(0x0008, 0x0000, VR::UL), Act::Keep); // group length
        assert_eq!(t(0x6000, 0x3000, VR::OW), Act::Remove); // overlay data
        assert_eq!(t(0x6000, 0x0010, VR::US), Act::Remove); // the rest of its plane
        assert_eq!(t(0x5000, 0x3000, VR::OW), Act::Remove); // curve data
        assert_eq!(t(0x0040, 0xA730, VR::SQ), Act::Keep); // ContentSequence D: tree kept
        assert_eq!(t(0x0040, 0xA073, VR::SQ), Act::Keep); // VerifyingObserverSequence D
        assert_eq!(t(0x0040, 0xA160, VR::UT), Act::Dummy); // TextValue inside it
        assert_eq!(t(0x0040, 0xA123, VR::PN), Act::Dummy); // PersonName inside it
        assert_eq!(t(0x0040, 0xA124, VR::UI), Act::ReplaceUid); // UID inside it
        assert_eq!(t(0x0040, 0x1101, VR::SQ), Act::Empty); // other D sequences: emptied
        assert_eq!(t(0x006A, 0x0003, VR::UI), Act::ReplaceUid); // D on a UI
        assert_eq!(t(0x0042, 0x0011, VR::OB), Act::Empty); // D on a binary VR
    }

    #[test]
    fn neuro_keeps_what_an_mri_lab_needs() {
        let r = Rules::resolve(Base::Neuro, &[]);
        let t = |g, e, vr| r.action(TagRef(g, e), vr);
        assert_eq!(t(0x0008, 0x0020, VR::DA), Act::ShiftDate);
        assert_eq!(t(0x0008, 0x0030, VR::TM), Act::Keep); // times of day stay
        assert_eq!(t(0x0008, 0x002A, VR::DT), Act::ShiftDate);
        assert_eq!(t(0x0018, 0x1200, VR::DA), Act::ShiftDate); // dev=K but dates decide
        assert_eq!(t(0x0018, 0x1000, VR::LO), Act::Keep); // DeviceSerialNumber
        assert_eq!(t(0x0008, 0x1010, VR::SH), Act::Keep); // StationName
        assert_eq!(t(0x0008, 0x0055, VR::AE), Act::Clean); // StationAETitle dev=C
        assert_eq!(t(0x0010, 0x1010, VR::AS), Act::Keep); // PatientAge
        assert_eq!(t(0x0010, 0x0040, VR::CS), Act::Keep); // PatientSex
        assert_eq!(t(0x0008, 0x103E, VR::LO), Act::Clean); // SeriesDescription
        assert_eq!(t(0x0018, 0x1030, VR::LO), Act::Clean); // ProtocolName
        assert_eq!(t(0x0008, 0x0080, VR::LO), Act::Empty); // InstitutionName stays out
        assert_eq!(t(0x0020, 0x000D, VR::UI), Act::ReplaceUid);
        assert_eq!(t(0x0010, 0x2110, VR::LO), Act::Clean); // Allergies pat=C, desc=C
        assert!(r.keeps_private("SIEMENS CSA HEADER"));
        assert!(r.keeps_private("SIEMENS MR HEADER"));
        assert!(r.keeps_private("GEMS_PARM_01"));
        assert!(!r.keeps_private("SIEMENS MED"));
        let p = |e, c| r.private_action(TagRef(0x0029, e), c);
        assert_eq!(p(0x1010, Some("SIEMENS CSA HEADER")), Act::Keep);
        assert_eq!(p(0x0010, Some("SIEMENS CSA HEADER")), Act::Keep);
        assert_eq!(p(0x1010, Some("SIEMENS MED")), Act::Remove);
        assert_eq!(p(0x1010, None), Act::Remove);
        assert_eq!(
            r.private_action(TagRef(0x0019, 0x100C), Some("SIEMENS MR HEADER")),
            Act::Keep
        );
        assert_eq!(
            r.private_action(TagRef(0x0043, 0x1039), Some("GEMS_PARM_01")),
            Act::Keep
        );
        assert_eq!(
            r.private_action(TagRef(0x0043, 0x1040), Some("GEMS_PARM_01")),
            Act::Remove
        );
    }

    #[test]
    fn basic_removes_every_private_element() {
        let r = basic();
        assert!(!r.keeps_private("SIEMENS CSA HEADER"));
        assert_eq!(
            r.private_action(TagRef(0x0029, 0x1010), Some("SIEMENS CSA HEADER")),
            Act::Remove
        );
        assert_eq!(r.action(TagRef(0x0029, 0x1010), VR::OB), Act::Remove);
    }

    #[test]
    fn options_change_single_rows() {
        let r = Rules::resolve(Base::Basic, &[DeidOption::RetainUids]);
        assert_eq!(r.action(TagRef(0x0020, 0x000D), VR::UI), Act::Keep);
        let r = Rules::resolve(Base::Basic, &[DeidOption::RetainLongFullDates]);
        assert_eq!(r.action(TagRef(0x0008, 0x0020), VR::DA), Act::Keep);
        assert_eq!(r.action(TagRef(0x0008, 0x0031), VR::TM), Act::Keep);
        let r = Rules::resolve(Base::Basic, &[DeidOption::RetainInstitutionIdentity]);
        assert_eq!(r.action(TagRef(0x0008, 0x0080), VR::LO), Act::Keep);
        let r = Rules::resolve(Base::Basic, &[DeidOption::CleanStructuredContent]);
        assert_eq!(r.action(TagRef(0x0040, 0xA730), VR::SQ), Act::Clean);
        assert_eq!(r.action(TagRef(0x0040, 0xA160), VR::UT), Act::Clean);
        let r = Rules::resolve(Base::Basic, &[DeidOption::CleanGraphics]);
        assert_eq!(r.action(TagRef(0x6002, 0x3000), VR::OW), Act::Clean);
        assert_eq!(r.action(TagRef(0x0008, 0x0050), VR::SH), Act::Empty);
    }

    #[test]
    fn overrides_and_names() {
        let r = Rules::resolve(Base::Basic, &[])
            .named("lab-share")
            .with_override(TagRef(0x0008, 0x1030), Act::Keep);
        assert_eq!(r.action(TagRef(0x0008, 0x1030), VR::LO), Act::Keep);
        assert!(
            r.method_text().ends_with(" lab-share"),
            "{}",
            r.method_text()
        );
        let codes: Vec<&str> = Rules::resolve(Base::Neuro, &[])
            .method_codes()
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(
            codes,
            ["113100", "113105", "113107", "113108", "113109", "113111"]
        );
    }

    #[test]
    fn has_answers_from_the_options() {
        let sets: [&[DeidOption]; 4] = [
            &[],
            &NEURO_OPTIONS,
            &DeidOption::ALL,
            &[DeidOption::RetainUids, DeidOption::CleanGraphics],
        ];
        for base in [Base::Basic, Base::Neuro] {
            for set in sets {
                let r = Rules::resolve(base, set);
                for o in DeidOption::ALL {
                    assert_eq!(r.has(o), r.options.contains(&o), "{o:?}");
                }
            }
        }
        let d = format!(
            "{:?}",
            Rules::resolve(Base::Basic, &[DeidOption::RetainUids])
        );
        assert_eq!(
            d,
            "Rules { name: \"basic\", base: Basic, options: {RetainUids}, overrides: {} }"
        );
    }

    #[test]
    fn resolved_rows_answer_as_row_action_does() {
        let vrs = [
            VR::DA,
            VR::DT,
            VR::TM,
            VR::LO,
            VR::SQ,
            VR::UI,
            VR::OB,
            VR::PN,
        ];
        let sets: [&[DeidOption]; 5] = [
            &[],
            &NEURO_OPTIONS,
            &[DeidOption::RetainLongFullDates, DeidOption::CleanGraphics],
            &[DeidOption::RetainUids, DeidOption::CleanStructuredContent],
            &[
                DeidOption::RetainInstitutionIdentity,
                DeidOption::RetainDeviceIdentity,
            ],
        ];
        for base in [Base::Basic, Base::Neuro] {
            for set in sets {
                let r = Rules::resolve(base, set);
                for (i, row) in tables().rows.iter().enumerate() {
                    let tags: Vec<TagRef> = match row.tag {
                        TagPattern::Exact(t) => vec![t],
                        TagPattern::Repeating { base, element } => (0..0x20)
                            .step_by(2)
                            .map(|g| TagRef(base + g, element.unwrap_or(0x1234)))
                            .collect(),
                        TagPattern::Private => vec![],
                    };
                    for tag in tags {
                        for vr in vrs {
                            assert_eq!(r.row_act(i, vr), r.row_action(tag, row, vr), "{tag}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn both_date_options_are_refused() {
        assert!(
            check_options(&[
                DeidOption::RetainLongFullDates,
                DeidOption::RetainLongModifiedDates
            ])
            .is_err()
        );
        assert!(check_options(&NEURO_OPTIONS).is_ok());
    }
}
