//! Findings: what went wrong for one participant, in the lab's own words.
//!
//! Both the anonymizer (unreadable files, an ID mismatch) and the verifier (a tag left, a pixel
//! changed) produce findings. A finding names a tag and/or a file and says what is wrong; it never
//! carries a value read from a DICOM header, so findings can go to the sheet, the terminal and
//! the JSON reports without leaking PHI.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A DICOM tag, printed (and serialized) the lab's way: `(0010,4000)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TagRef(pub u16, pub u16);

impl Serialize for TagRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TagRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        TagRef::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!("`{text}` is not a tag written (gggg,eeee)"))
        })
    }
}

impl TagRef {
    /// Parses the lab's way of writing a tag, `(0010,4000)`, as [`Display`](fmt::Display) prints it.
    pub fn parse(text: &str) -> Option<TagRef> {
        let inner = text.strip_prefix('(')?.strip_suffix(')')?;
        let (g, e) = inner.split_once(',')?;
        let hex = |s: &str| {
            (s.len() == 4)
                .then(|| u16::from_str_radix(s, 16).ok())
                .flatten()
        };
        Some(TagRef(hex(g)?, hex(e)?))
    }
}

impl fmt::Display for TagRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "({:04X},{:04X})", self.0, self.1)
    }
}

/// One problem for one participant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The element concerned, if any.
    pub tag: Option<TagRef>,
    /// The file concerned, relative to the participant's folder (`/`-separated), if any.
    pub file: Option<String>,
    /// What is wrong, without PHI: `PatientComments not anonymous`.
    pub message: String,
}

impl Finding {
    /// A finding about the whole participant (no tag, no file).
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            tag: None,
            file: None,
            message: message.into(),
        }
    }

    /// Names the element concerned.
    pub fn tag(mut self, group: u16, element: u16) -> Self {
        self.tag = Some(TagRef(group, element));
        self
    }

    /// Names the file concerned (relative to the participant's folder).
    pub fn file(mut self, rel: impl Into<String>) -> Self {
        self.file = Some(rel.into());
        self
    }
}

impl fmt::Display for Finding {
    /// `(0010,4000) PatientComments not anonymous`, `dwi/IM-0003.dcm truncated`.
    ///
    /// A finding with a tag is shown by its tag alone: the file it was first seen in stays in
    /// the JSON report, so the note in the sheet reads the way the lab writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.tag, &self.file) {
            (Some(tag), _) => write!(f, "{tag} {}", self.message),
            (None, Some(file)) => write!(f, "{file} {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl Finding {
    /// The finding with the file it concerns, for a reviewer's screen:
    /// `(7FE0,0010) PixelData changed [T1/IM-0003.dcm]`.
    pub fn detailed(&self) -> String {
        match (&self.tag, &self.file) {
            (Some(_), Some(file)) => format!("{self} [{file}]"),
            _ => self.to_string(),
        }
    }
}

/// The longest note anontrack writes into a cell (after the initials), in characters.
pub const NOTE_MAX: usize = 80;

/// The short note for the sheet: the first finding plus `(+N more)`, at most [`NOTE_MAX`]
/// characters (see [`short_note`]). The findings themselves, whole, go to the report.
pub fn sheet_note(findings: &[Finding]) -> Option<String> {
    let first = findings.first()?;
    let more = match findings.len() {
        1 => String::new(),
        n => format!(" (+{} more)", n - 1),
    };
    Some(short_note(&first.to_string(), &more))
}

/// `text` made fit for a cell, then `suffix`, in at most [`NOTE_MAX`] characters: OS error
/// numbers dropped, absolute paths cut to their last part, and a text still too long trimmed
/// at a word boundary with `...`.
pub fn short_note(text: &str, suffix: &str) -> String {
    let text = cell_safe(text);
    let budget = NOTE_MAX.saturating_sub(suffix.chars().count());
    if text.chars().count() <= budget {
        return format!("{text}{suffix}");
    }
    let limit = budget.saturating_sub(3);
    let cut: String = text.chars().take(limit).collect();
    // Cut at the last space, unless that loses more than half (one long path is cut inside).
    let at_boundary = text.chars().nth(limit) == Some(' ');
    let cut = match cut.rfind(' ') {
        _ if at_boundary => cut.as_str(),
        Some(i) if cut[..i].chars().count() > limit / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!("{}...{suffix}", cut.trim_end_matches([' ', ',', ';', ':']))
}

/// `text` without what has no place in a cell: ` (os error 2)` is dropped, and a word that is
/// an absolute path (`/home/kh/study/sourcedata/5`, `C:\\study\\x`) keeps only its last part.
fn cell_safe(text: &str) -> String {
    let mut text = text.to_string();
    while let Some(start) = text.find(" (os error ") {
        let Some(len) = text[start..].find(')') else {
            break;
        };
        text.replace_range(start..start + len + 1, "");
    }
    text.split(' ')
        .map(|word| {
            let core = word.trim_matches(|c| "`'\"(),:;".contains(c));
            if is_absolute(core) {
                let last = core
                    .trim_end_matches(['/', '\\'])
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap_or_default();
                word.replacen(core, last, 1)
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Unix absolute path, a Windows one with a drive letter, or a UNC path.
fn is_absolute(word: &str) -> bool {
    let b = word.as_bytes();
    (b.len() > 1 && b[0] == b'/')
        || word.starts_with("\\\\")
        || (b.len() > 2
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && matches!(b[2], b'\\' | b'/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_read_back_as_they_print() {
        let f = Finding::new("x").tag(0x0029, 0x1009).file("a/b.dcm");
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<Finding>(&json).unwrap(), f);
        assert_eq!(TagRef::parse("(0010,4000)"), Some(TagRef(0x10, 0x4000)));
        assert_eq!(TagRef::parse("0010,4000"), None);
        assert_eq!(TagRef::parse("(010,4000)"), None);
        assert_eq!(TagRef::parse("(00g0,4000)"), None);
    }

    #[test]
    fn displays_in_the_labs_words() {
        let f = Finding::new("PatientComments not anonymous").tag(0x0010, 0x4000);
        assert_eq!(f.to_string(), "(0010,4000) PatientComments not anonymous");
        let f = Finding::new("truncated").file("dwi/IM-0003.dcm");
        assert_eq!(f.to_string(), "dwi/IM-0003.dcm truncated");
        let f = Finding::new("PatientComments not anonymous in 2 files")
            .tag(0x0010, 0x4000)
            .file("T1/IM-0001.dcm");
        assert_eq!(
            f.to_string(),
            "(0010,4000) PatientComments not anonymous in 2 files"
        );
        assert_eq!(
            f.detailed(),
            "(0010,4000) PatientComments not anonymous in 2 files [T1/IM-0001.dcm]"
        );
    }

    #[test]
    fn sheet_note_counts_the_rest() {
        assert_eq!(sheet_note(&[]), None);
        let a = Finding::new("a");
        let b = Finding::new("b");
        assert_eq!(sheet_note(std::slice::from_ref(&a)).as_deref(), Some("a"));
        assert_eq!(
            sheet_note(&[a, b.clone(), b]).as_deref(),
            Some("a (+2 more)")
        );
    }

    #[test]
    fn sheet_notes_stay_short() {
        let long = Finding::new("could not anonymize: ".to_string() + &"word ".repeat(30));
        let note = sheet_note(&[long.clone(), Finding::new("b")]).unwrap();
        assert!(note.chars().count() <= NOTE_MAX, "{note}");
        assert!(note.ends_with("word... (+1 more)"), "{note}");
        let one = sheet_note(std::slice::from_ref(&long)).unwrap();
        assert!(
            one.chars().count() <= NOTE_MAX && one.ends_with(" word..."),
            "{one}"
        );
        // One word longer than the cell is cut inside it.
        let path = "x".repeat(200);
        let note = short_note(&format!("no raw folder found at {path}"), "");
        assert_eq!(note.chars().count(), NOTE_MAX);
        assert!(note.starts_with("no raw folder found at xxx") && note.ends_with("x..."));
        // Exactly 80 is kept whole.
        let exact = "y".repeat(80);
        assert_eq!(short_note(&exact, ""), exact);
    }

    #[test]
    fn cells_get_no_absolute_paths_nor_os_error_numbers() {
        assert_eq!(
            short_note(
                "could not read `/home/kh/study/sourcedata/5/IM1.dcm`: No such file or directory (os error 2)",
                ""
            ),
            "could not read `IM1.dcm`: No such file or directory"
        );
        assert_eq!(
            short_note(r"cannot open C:\Users\kh\study\AnonDcm\S1 (os error 5)", ""),
            "cannot open S1"
        );
        assert_eq!(
            short_note("no raw folder found at sourcedata/5", ""),
            "no raw folder found at sourcedata/5"
        );
    }
}
