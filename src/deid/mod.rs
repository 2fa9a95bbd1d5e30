//! The DICOM standard's de-identification (PS3.15 Annex E) as a contract: the options, the action an
//! attribute must undergo, and the keyed functions that make pseudonyms reproducible.
//!
//! This module owns the *vocabulary* that the writer ([`crate::anonymize`]) and the independent
//! reviewer ([`crate::verify`]) share. It does not apply anything to a file and does not check
//! anything: the writer applies these actions with its own walker, and the verifier checks them with
//! its own parser and recomputes every keyed value itself, so that a mistake in one is caught by the
//! other.
//!
//! # Keyed values (the specification both sides implement)
//!
//! The study key is 32 random bytes kept in `.anontrack/study.key` (raw bytes, mode 0600). With
//! `H(label, text)` = HMAC-SHA256(key, label ‖ text) over UTF-8 bytes:
//!
//! - **UID** (action U): the original UID with trailing NUL and space padding removed, `u`;
//!   new UID = `"2.25."` followed by the decimal form of the first 16 bytes of
//!   `H("anontrack-uid:", u)` read as a big-endian `u128`.
//! - **Date offset** of a participant: `v` = the first 8 bytes of
//!   `H("anontrack-date:", original_id)` (the sheet's Original ID, trimmed) as a big-endian `u64`;
//!   offset in days = `-(min + v % (max - min + 1))`, with `min = 30` and `max = 365` by default.
//!   Every DA value moves by the offset; the date part of every DT moves, its time part stays; TM
//!   values never change.
//! - **A UID inside a retained private blob** (every UID-shaped token: a maximal run of digits and
//!   dots that starts with a digit, its trailing dots cut off, of 16 characters or more with 4
//!   dots or more, whether or not it is one of the file's own UIDs) is overwritten by a
//!   same-length string: `s` the UID as found, `h` = `H("anontrack-blob-uid:", s)`; character
//!   `i` of `s` stays `.` where it is a dot, else becomes the digit `h[i % 32] % 10`, except that
//!   a `0` which would start a component longer than one character becomes `1`.
//! - **A date inside a retained private blob**: every original date of the file, standing alone
//!   (no digit beside it), becomes the shifted date, same format (a value that is no real date
//!   becomes `19000101`); not under `retain-long-full-dates`. The original dates are the
//!   8-character values (padding trimmed) of every DA element and of PatientBirthDate, at any
//!   depth.
//! - **Other identifying text inside a retained private blob** becomes `X` repeated to the same
//!   length. Exactly these values feed the list, each trimmed of space and NUL padding and kept
//!   only when 3 characters or more (a shorter one is left alone), once (ASCII case ignored):
//!   1. the sheet's Original ID;
//!   2. the parts of PatientName (0010,0010), split at `^`, `=` and spaces;
//!   3. the values of PatientID (0010,0020) and OtherPatientIDs (0010,1000), split at `\`;
//!   4. DeviceSerialNumber (0018,1000), unless the profile keeps it (`retain-device-identity`);
//!
//!   the Original ID first, the others in file order (every depth of the file). A value matches only in its exact case and standing alone (no ASCII letter or digit
//!   beside it), so a name part inside a longer word (`ImagePositionPatient`) keeps its bytes.
//!   Nothing else is overwritten: other PN elements (staff names), InstitutionName, StationName
//!   and AccessionNumber are not substituted, nor is an identifier in another case.
//! - **Order**: UID-shaped tokens first; then, left to right, dates and texts, where at one
//!   position a date is tried before the texts and the texts in the list's order; a substitute
//!   is never searched again.
//!
//! Test vectors with the key `00 01 02 ... 1f`:
//! - UID `1.2.840.113619.2.1.1.1` -> `2.25.25695716793682185042020248520443766625`
//! - date offset for Original ID `60784` -> `-164` days
//! - blob UID `1.3.12.2.1107.5.2.32.35162.2013102415040717859311017` ->
//!   `0.5.27.8.3863.7.6.11.83641.9994602522778538638766411`
//!
//! # Identity of the output
//!
//! PatientID (0010,0020) and PatientName (0010,0010) hold the sheet's ID. PatientIdentityRemoved
//! (0012,0062) is `YES`. DeidentificationMethod (0012,0063) is `anontrack <version> <profile>`.
//! DeidentificationMethodCodeSequence (0012,0064) lists `113100` (Basic Application Confidentiality
//! Profile, scheme `DCM`) followed by one item per option in ascending code order (see
//! [`DeidOption::code`]). MediaStorageSOPInstanceUID (0002,0003) equals the output's
//! SOPInstanceUID, whatever the raw meta held; in a file whose data set has no SOPInstanceUID
//! (none is added), the meta's own UID undergoes its own action (U: its keyed UID).
//!
//! # What `clean` (C) looks for
//!
//! A text value whose action is C is kept only when it holds none of these identifiers of its
//! raw file, else emptied (TextValue gets a dummy) and reported as changed: the Original ID and
//! PatientID; the parts (3 characters or more, split at `^`, `=`, `\` and spaces) of every PN
//! element at any depth that the profile does not keep (K or C), the top-level patient PN
//! elements always; AccessionNumber, InstitutionName, StationName and DeviceSerialNumber (3
//! characters or more) unless kept; PatientBirthDate anywhere in the text; and, as whole tokens,
//! every UID (8 characters or more, not `1.2.840.10008.`) and the date of every DA and DT value
//! of an element the profile does not keep. ASCII case is ignored; a needle of fewer than 6
//! characters matches only as a whole word. This is the verifier's residual sweep for one file
//! (the verifier sweeps with the union of all the participant's raw files).
//! Under `retain-long-modified-dates`, LongitudinalTemporalInformationModified (0028,0303) is
//! `MODIFIED`.

use serde::{Deserialize, Serialize};

pub mod keyed;
pub mod rules;
pub mod table;

pub use keyed::StudyKey;
pub use rules::{Base, Rules, check_options};

/// One option of the standard's profile (PS3.15 Table E.1-1 columns), named in kebab case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeidOption {
    /// Keep private attributes on the safe list (Table E.3.10-1) and the Siemens blocks conversion needs.
    RetainSafePrivate,
    /// Keep every UID as it is.
    RetainUids,
    /// Keep device identity (StationName, DeviceSerialNumber, ...).
    RetainDeviceIdentity,
    /// Keep institution identity (InstitutionName, ...).
    RetainInstitutionIdentity,
    /// Keep sex, age, weight, height and similar.
    RetainPatientCharacteristics,
    /// Keep dates as they are.
    RetainLongFullDates,
    /// Shift every date by the participant's keyed offset.
    RetainLongModifiedDates,
    /// Keep descriptions that hold no identifiers; empty the others.
    CleanDescriptors,
    /// Clean structured content (SR).
    CleanStructuredContent,
    /// Clean graphics (overlays, annotations).
    CleanGraphics,
}

impl DeidOption {
    /// Every option, in ascending CID 7050 code order.
    pub const ALL: [DeidOption; 10] = [
        DeidOption::CleanGraphics,
        DeidOption::CleanStructuredContent,
        DeidOption::CleanDescriptors,
        DeidOption::RetainLongFullDates,
        DeidOption::RetainLongModifiedDates,
        DeidOption::RetainPatientCharacteristics,
        DeidOption::RetainDeviceIdentity,
        DeidOption::RetainUids,
        DeidOption::RetainSafePrivate,
        DeidOption::RetainInstitutionIdentity,
    ];

    /// The option's name as written in `anontrack.toml` and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            DeidOption::RetainSafePrivate => "retain-safe-private",
            DeidOption::RetainUids => "retain-uids",
            DeidOption::RetainDeviceIdentity => "retain-device-identity",
            DeidOption::RetainInstitutionIdentity => "retain-institution-identity",
            DeidOption::RetainPatientCharacteristics => "retain-patient-characteristics",
            DeidOption::RetainLongFullDates => "retain-long-full-dates",
            DeidOption::RetainLongModifiedDates => "retain-long-modified-dates",
            DeidOption::CleanDescriptors => "clean-descriptors",
            DeidOption::CleanStructuredContent => "clean-structured-content",
            DeidOption::CleanGraphics => "clean-graphics",
        }
    }

    /// The option's code in CID 7050 (scheme `DCM`).
    pub fn code(self) -> &'static str {
        match self {
            DeidOption::CleanGraphics => "113103",
            DeidOption::CleanStructuredContent => "113104",
            DeidOption::CleanDescriptors => "113105",
            DeidOption::RetainLongFullDates => "113106",
            DeidOption::RetainLongModifiedDates => "113107",
            DeidOption::RetainPatientCharacteristics => "113108",
            DeidOption::RetainDeviceIdentity => "113109",
            DeidOption::RetainUids => "113110",
            DeidOption::RetainSafePrivate => "113111",
            DeidOption::RetainInstitutionIdentity => "113112",
        }
    }

    /// Parses an option name; `clean-pixel-data` and `clean-recognizable-visual-features` are refused
    /// with the reason, as is anything unknown (with the list of known names).
    pub fn parse(name: &str) -> Result<Self, String> {
        let wanted = name.trim().to_ascii_lowercase();
        if let Some(o) = DeidOption::ALL.iter().find(|o| o.name() == wanted) {
            return Ok(*o);
        }
        match wanted.as_str() {
            "clean-pixel-data" | "clean-recognizable-visual-features" => Err(format!(
                "option `{wanted}` is not offered: anontrack never changes pixel data (burned-in text \
                 and faces need a pixel tool such as a defacer before or after anontrack)"
            )),
            _ => {
                let known: Vec<&str> = DeidOption::ALL.iter().map(|o| o.name()).collect();
                Err(format!(
                    "unknown option `{wanted}` (known: {})",
                    known.join(", ")
                ))
            }
        }
    }
}

/// The code of the Basic Application Confidentiality Profile itself (CID 7050).
pub const BASIC_PROFILE_CODE: &str = "113100";

/// What the de-identified file must hold for one attribute, after the profile's options and the
/// attribute's IOD type have resolved the standard's compound codes (`X/Z`, `X/Z/D`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Act {
    /// X: the attribute is absent.
    Remove,
    /// Z: present with an empty value (or a VR-valid dummy).
    Empty,
    /// D: present with a VR-valid dummy that is not the original value.
    Dummy,
    /// K: unchanged, byte for byte.
    Keep,
    /// C: kept only if it holds none of the participant's identifiers, else emptied.
    Clean,
    /// U: a keyed UID (see the module docs).
    ReplaceUid,
    /// PatientID / PatientName: the sheet's ID.
    Pseudonym,
    /// A date moved by the participant's keyed offset (under `retain-long-modified-dates`).
    ShiftDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_names_round_trip_and_codes_ascend() {
        for o in DeidOption::ALL {
            assert_eq!(DeidOption::parse(o.name()), Ok(o));
        }
        let codes: Vec<&str> = DeidOption::ALL.iter().map(|o| o.code()).collect();
        let mut sorted = codes.clone();
        sorted.sort();
        assert_eq!(codes, sorted);
    }

    #[test]
    fn pixel_options_are_refused_with_a_reason() {
        let e = DeidOption::parse("clean-pixel-data").unwrap_err();
        assert!(e.contains("never changes pixel data"), "{e}");
        assert!(
            DeidOption::parse("retain-everything")
                .unwrap_err()
                .contains("known:")
        );
    }
}
