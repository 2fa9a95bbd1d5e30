//! What a profile leaves behind: the attributes the Basic profile would remove or replace that
//! still carry a value in the output, counted across files, and where the scan date or the
//! device serial number hides inside UIDs or the Siemens CSA header.
//!
//! This is information for the lab, not a finding: a profile that keeps AccessionNumber or the
//! original UIDs does so by choice, and the summary says what is shared with it.

use super::parse::{self, DataSet, Elem, Val};
use crate::deid::{Act, Base, Rules};
use crate::finding::TagRef;
use dicom_core::Tag;
use memchr::memmem::Finder;
use serde::Serialize;
use std::collections::BTreeMap;

/// One attribute left with a value, and in how many files.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Leftover {
    pub tag: TagRef,
    pub keyword: String,
    pub files: usize,
    /// The sheet rows it was left in (a study's merged leftovers only; empty otherwise).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<u32>,
}

/// The leftovers of a participant's output.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Leftovers {
    /// Attributes (public, by tag; private ones as one line per group) the Basic profile would
    /// not keep as they are, with a value in the output: most files first, then by tag.
    pub attributes: Vec<Leftover>,
    /// Files with the scan date (StudyDate, SeriesDate, AcquisitionDate) inside a UID value.
    pub scan_date_in_uids: usize,
    /// Files with the device serial number inside a UID value.
    pub serial_in_uids: usize,
    /// Files with the scan date inside a Siemens CSA header.
    pub scan_date_in_csa: usize,
    /// Files with the device serial number inside a Siemens CSA header.
    pub serial_in_csa: usize,
    /// The sheet rows of each hiding place above (a study's merged leftovers only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden_rows: Option<HiddenRows>,
}

/// The sheet rows in which the scan date or serial hides, one list per hiding place of
/// [`Leftovers`].
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct HiddenRows {
    pub scan_date_in_uids: Vec<u32>,
    pub serial_in_uids: Vec<u32>,
    pub scan_date_in_csa: Vec<u32>,
    pub serial_in_csa: Vec<u32>,
}

/// Several participants' leftovers merged (`verify SHEET --leftovers`): file counts summed
/// across the study, and the sheet rows each attribute or hiding place was found in.
#[derive(Debug, Default)]
pub struct StudyTally {
    /// By tag: keyword, files, rows (ascending, as added).
    tags: BTreeMap<TagRef, (String, usize, Vec<u32>)>,
    hides: [(usize, Vec<u32>); 4],
}

impl StudyTally {
    /// Adds the leftovers of the participant in sheet row `row`.
    pub fn add(&mut self, row: u32, l: &Leftovers) {
        for a in &l.attributes {
            let (_, files, rows) = self
                .tags
                .entry(a.tag)
                .or_insert_with(|| (a.keyword.clone(), 0, Vec::new()));
            *files += a.files;
            rows.push(row);
        }
        let counts = [
            l.scan_date_in_uids,
            l.serial_in_uids,
            l.scan_date_in_csa,
            l.serial_in_csa,
        ];
        for ((files, rows), n) in self.hides.iter_mut().zip(counts) {
            if n > 0 {
                *files += n;
                rows.push(row);
            }
        }
    }

    /// The merged summary, ordered as a participant's: most files first, then by tag.
    pub fn finish(self) -> Leftovers {
        let mut attributes: Vec<Leftover> = self
            .tags
            .into_iter()
            .map(|(tag, (keyword, files, rows))| Leftover {
                tag,
                keyword,
                files,
                rows,
            })
            .collect();
        attributes.sort_by(|a, b| b.files.cmp(&a.files).then(a.tag.cmp(&b.tag)));
        let [(a, ar), (b, br), (c, cr), (d, dr)] = self.hides;
        Leftovers {
            attributes,
            scan_date_in_uids: a,
            serial_in_uids: b,
            scan_date_in_csa: c,
            serial_in_csa: d,
            hidden_rows: Some(HiddenRows {
                scan_date_in_uids: ar,
                serial_in_uids: br,
                scan_date_in_csa: cr,
                serial_in_csa: dr,
            }),
        }
    }
}

/// `(row 3)`, `(rows 3, 5)`; empty for no rows.
fn rows_note(rows: &[u32]) -> String {
    match rows {
        [] => String::new(),
        [r] => format!(" (row {r})"),
        _ => {
            let list: Vec<String> = rows.iter().map(u32::to_string).collect();
            format!(" (rows {})", list.join(", "))
        }
    }
}

/// The running count, folded file by file.
#[derive(Debug, Default)]
pub struct Tally {
    tags: BTreeMap<TagRef, usize>,
    hides: [usize; 4],
}

impl Tally {
    /// Adds one output file (`basic` is [`basic()`]): `raw` gives the scan date and serial to
    /// look for. Values in
    /// `exclude` (the profile's replacements, lowercase), keyed UIDs (`2.25.`) and the
    /// top-level elements in `own_top` (sorted: what the profile writes itself, such as the
    /// lab's run date in AcquisitionDate) are the profile's own, not leftovers.
    pub fn add(
        &mut self,
        basic: &Rules,
        exclude: &[String],
        own_top: &[Tag],
        raw: &DataSet<'_>,
        anon: &DataSet<'_>,
    ) {
        // The tags left, sorted and deduplicated at the end (cheaper than a set per file).
        let mut seen: Vec<TagRef> = Vec::with_capacity(anon.len());
        let mut stack: Vec<&[Elem<'_>]> = vec![anon];
        let top = anon.as_ptr();
        let text = |t: Tag| super::sweep::element_text(raw, t).filter(|s| !s.is_empty());
        let mut dates: Vec<String> = [
            Tag(0x0008, 0x0020),
            Tag(0x0008, 0x0021),
            Tag(0x0008, 0x0022),
        ]
        .into_iter()
        .filter_map(text)
        .filter(|d| d.len() == 8)
        .collect();
        // Study, series and acquisition usually share the date: each searched for once.
        dates.sort_unstable();
        dates.dedup();
        let serial = text(Tag(0x0018, 0x1000)).filter(|s| s.len() >= 4);
        // Searchers built once per file: a CSA header is searched for each of them.
        let dates: Vec<Finder<'_>> = dates.iter().map(|d| Finder::new(d.as_bytes())).collect();
        let serial = serial.as_deref().map(|s| Finder::new(s.as_bytes()));
        let date_in = |b: &[u8]| dates.iter().any(|d| d.find(b).is_some());
        let serial_in = |b: &[u8]| serial.as_ref().is_some_and(|s| s.find(b).is_some());
        let mut hides = [false; 4];
        BASIC_KEEPS.with_borrow_mut(|cache| {
            let mut keeps = |t: TagRef, vr: [u8; 2]| basic_keeps(cache, basic, t, vr);
            while let Some(ds) = stack.pop() {
                for e in ds {
                    match &e.value {
                        Val::Seq(items) => stack.extend(items.iter().map(Vec::as_slice)),
                        Val::Bytes(b) => {
                            if &e.vr == b"UI" {
                                hides[0] |= date_in(b);
                                hides[1] |= serial_in(b);
                            }
                            if super::sweep::is_csa(ds, e.tag) {
                                hides[2] |= date_in(b);
                                hides[3] |= serial_in(b);
                            }
                            if e.tag.1 == 0 || e.tag == parse::PIXEL_DATA {
                                continue;
                            }
                            // What would be counted: a private group (one line per group,
                            // creators and values alike), or a public element the Basic profile
                            // does not keep. Asked first: most elements are kept, and then their
                            // value need not be looked at.
                            let t = if !e.tag.0.is_multiple_of(2) {
                                TagRef(e.tag.0, 0x0000)
                            } else if !keeps(TagRef(e.tag.0, e.tag.1), e.vr) {
                                TagRef(e.tag.0, e.tag.1)
                            } else {
                                continue;
                            };
                            // Text is decoded only for text VRs: binary values (CSA headers) are
                            // judged by their bytes, without a copy.
                            let (empty, own) = if parse::is_text(e.vr) {
                                let v = parse::text(b);
                                let own = exclude.iter().any(|x| v.eq_ignore_ascii_case(x))
                                    || (&e.vr == b"UI" && v.starts_with("2.25."));
                                (v.is_empty(), own)
                            } else {
                                (b.iter().all(|c| matches!(c, b' ' | 0)), false)
                            };
                            let own = own
                                || (ds.as_ptr() == top && own_top.binary_search(&e.tag).is_ok());
                            if !empty && !own {
                                seen.push(t);
                            }
                        }
                        Val::Frags(_) => {}
                    }
                }
            }
        });
        seen.sort_unstable();
        seen.dedup();
        for t in seen {
            *self.tags.entry(t).or_default() += 1;
        }
        for (n, h) in self.hides.iter_mut().zip(hides) {
            *n += usize::from(h);
        }
    }

    /// Adds another tally (parallel folds).
    pub fn merge(&mut self, other: Tally) {
        for (t, n) in other.tags {
            *self.tags.entry(t).or_default() += n;
        }
        for (a, b) in self.hides.iter_mut().zip(other.hides) {
            *a += b;
        }
    }

    /// The summary.
    pub fn finish(self) -> Leftovers {
        let mut attributes: Vec<Leftover> = self
            .tags
            .into_iter()
            .map(|(tag, files)| Leftover {
                tag,
                keyword: if tag.0 % 2 == 1 {
                    format!("private group {:04X}", tag.0)
                } else {
                    super::keyword(Tag(tag.0, tag.1)).into_owned()
                },
                files,
                rows: Vec::new(),
            })
            .collect();
        attributes.sort_by(|a, b| b.files.cmp(&a.files).then(a.tag.cmp(&b.tag)));
        let [
            scan_date_in_uids,
            serial_in_uids,
            scan_date_in_csa,
            serial_in_csa,
        ] = self.hides;
        Leftovers {
            attributes,
            scan_date_in_uids,
            serial_in_uids,
            scan_date_in_csa,
            serial_in_csa,
            hidden_rows: None,
        }
    }
}

/// Whether the Basic profile keeps a public element (of this VR) as it is. Cached per thread:
/// `basic` is always [`basic()`], and looking a tag up in the standard's table costs a scan of
/// its repeating-group rows for every tag the table does not list.
fn basic_keeps(cache: &mut KeepsCache, basic: &Rules, t: TagRef, vr: [u8; 2]) -> bool {
    let packed =
        u64::from(t.0) << 32 | u64::from(t.1) << 16 | u64::from(vr[0]) << 8 | u64::from(vr[1]);
    if cache.len() > 1 << 16 {
        cache.clear(); // a hostile file of many made-up tags: stay bounded
    }
    *cache
        .entry(packed)
        .or_insert_with(|| basic.action(t, super::standard::vr_named(vr)) == Act::Keep)
}

/// [`basic_keeps`]' answers by tag and VR packed in one word.
type KeepsCache = std::collections::HashMap<u64, bool, super::standard::FastHash>;

thread_local! {
    /// The thread's [`KeepsCache`], borrowed once per file.
    static BASIC_KEEPS: std::cell::RefCell<KeepsCache> = Default::default();
}

/// The Basic profile's rules, against which leftovers are judged.
pub fn basic() -> Rules {
    Rules::resolve(Base::Basic, &[])
}

impl Leftovers {
    /// The summary in one short line, for the participant's report after a `sync`: how many
    /// attributes are left (the first few named, most files first) and where the scan date or
    /// serial hides. No values from the files.
    pub fn line(&self) -> String {
        const NAMED: usize = 5;
        let mut s = if self.attributes.is_empty() {
            "none: nothing the Basic profile would remove or replace is left".to_string()
        } else {
            let n = self.attributes.len();
            let names: Vec<&str> = self
                .attributes
                .iter()
                .take(NAMED)
                .map(|a| a.keyword.as_str())
                .collect();
            format!(
                "{n} attribute{} the Basic profile would remove or replace still hold{} a value \
                 ({}{})",
                if n == 1 { "" } else { "s" },
                if n == 1 { "s" } else { "" },
                names.join(", "),
                if n > NAMED { ", ..." } else { "" }
            )
        };
        for (n, what) in [
            (self.scan_date_in_uids, "the scan date inside UIDs"),
            (self.serial_in_uids, "the device serial inside UIDs"),
            (self.scan_date_in_csa, "the scan date inside the CSA header"),
            (
                self.serial_in_csa,
                "the device serial inside the CSA header",
            ),
        ] {
            if n > 0 {
                s.push_str(&format!(
                    "; {what} in {n} file{}",
                    if n == 1 { "" } else { "s" }
                ));
            }
        }
        s
    }

    /// The summary as lines for a terminal, without values from the files; a study's merged
    /// summary names the rows after each line: `(rows 3, 5)`.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.attributes.is_empty() {
            out.push("leftovers: none (nothing the Basic profile would remove is left)".into());
        } else {
            out.push("leftovers (attributes the Basic profile would remove or replace):".into());
            for a in &self.attributes {
                let tag = if a.tag.0 % 2 == 1 {
                    String::new()
                } else {
                    format!("{} ", a.tag)
                };
                out.push(format!(
                    "  {tag}{} in {} file(s){}",
                    a.keyword,
                    a.files,
                    rows_note(&a.rows)
                ));
            }
        }
        let none = HiddenRows::default();
        let rows = self.hidden_rows.as_ref().unwrap_or(&none);
        for (n, what, rows) in [
            (
                self.scan_date_in_uids,
                "the scan date inside a UID",
                &rows.scan_date_in_uids,
            ),
            (
                self.serial_in_uids,
                "the device serial number inside a UID",
                &rows.serial_in_uids,
            ),
            (
                self.scan_date_in_csa,
                "the scan date inside the Siemens CSA header",
                &rows.scan_date_in_csa,
            ),
            (
                self.serial_in_csa,
                "the device serial number inside the Siemens CSA header",
                &rows.serial_in_csa,
            ),
        ] {
            if n > 0 {
                out.push(format!("  {n} file(s) hold {what}{}", rows_note(rows)));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(tag: TagRef, keyword: &str, files: usize) -> Leftover {
        Leftover {
            tag,
            keyword: keyword.into(),
            files,
            rows: Vec::new(),
        }
    }

    #[test]
    fn a_study_sums_files_and_names_rows() {
        let (uid, time) = (TagRef(0x0020, 0x000D), TagRef(0x0008, 0x0030));
        let mut t = StudyTally::default();
        t.add(
            3,
            &Leftovers {
                attributes: vec![one(uid, "StudyInstanceUID", 2)],
                scan_date_in_uids: 2,
                ..Leftovers::default()
            },
        );
        t.add(
            4,
            &Leftovers {
                attributes: vec![one(time, "StudyTime", 3), one(uid, "StudyInstanceUID", 3)],
                ..Leftovers::default()
            },
        );
        let l = t.finish();
        assert_eq!(
            l.lines(),
            [
                "leftovers (attributes the Basic profile would remove or replace):",
                "  (0020,000D) StudyInstanceUID in 5 file(s) (rows 3, 4)",
                "  (0008,0030) StudyTime in 3 file(s) (row 4)",
                "  2 file(s) hold the scan date inside a UID (row 3)",
            ]
        );
        assert!(StudyTally::default().finish().lines()[0].starts_with("leftovers: none"));
    }
}
