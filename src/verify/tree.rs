//! The two folder trees: listing files, pairing each raw file with its anonymized copy, and
//! telling DICOM files from the rest.
//!
//! The anonymized tree mirrors the raw tree's relative paths, except that a path component holding
//! the original ID carries the study ID in its place. Non-DICOM raw files (no `DICM` at byte 128:
//! notes, DICOMDIR, .DS_Store) are expected to be absent from the anonymized tree.

use super::keyed::Key;
use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

pub use crate::folder::Listing;

/// Lists `root` recursively by the study's one symlink rule ([`crate::folder::list`]: links
/// inside the folder are followed, others refused and listed for a finding); a missing root
/// is an error with a hint.
pub fn list(root: &Path) -> Result<Listing> {
    if !root.is_dir() {
        return Err(Error::MissingFolder {
            path: root.to_path_buf(),
            hint: " (hint: check the path; verify compares a raw folder with its anonymized copy)"
                .into(),
        });
    }
    crate::folder::list(root)
}

/// The anonymized relative path for a raw one: each component holding `original` gets `study`
/// (the study's naming rule, [`crate::folder::renamed`]; without a study ID, unchanged), then,
/// with `uids` (a standard profile's key), every UID in the name gets its keyed UID
/// ([`keyed_uid_names`]).
pub fn map_rel(
    rel: &str,
    original: Option<&str>,
    study: Option<&str>,
    uids: Option<&Key>,
) -> String {
    let rel = match (original, study) {
        (Some(o), Some(s)) => crate::folder::renamed(rel, o, s),
        _ => rel.to_string(),
    };
    match uids {
        Some(key) => keyed_uid_names(&rel, key),
        None => rel,
    }
}

/// `rel` with every UID-shaped part replaced by its keyed UID ([`Key::uid`]): a maximal run of
/// digits and dots that starts with a digit, once its trailing dots are cut off (they belong to
/// an extension: `1.2.3....4.dcm`), is a UID when it has at least 16 characters and either 4
/// dots or the UUID-derived root `2.25.`.
///
/// This is the verifier's own scan, written apart from the writer's
/// `anonymize::standard::renamed_uids` on purpose: the verifier shares no code with what it
/// checks, so a bug in the writer's rule shows up as missing and extra files, not as a pass.
/// The two must follow the same documented rule (a unit test compares them).
pub fn keyed_uid_names(rel: &str, key: &Key) -> String {
    let uidish = |c: char| c.is_ascii_digit() || c == '.';
    let mut out = String::with_capacity(rel.len());
    let mut rest = rel;
    while let Some(start) = rest.find(uidish) {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let run = &tail[..tail.find(|c: char| !uidish(c)).unwrap_or(tail.len())];
        let uid = run.trim_end_matches('.');
        if run.starts_with(|c: char| c.is_ascii_digit())
            && uid.len() >= 16
            && (uid.bytes().filter(|b| *b == b'.').count() >= 4 || uid.starts_with("2.25."))
        {
            out.push_str(&key.uid(uid));
            out.push_str(&run[uid.len()..]);
        } else {
            out.push_str(run);
        }
        rest = &tail[run.len()..];
    }
    out.push_str(rest);
    out
}

/// True when the file has `DICM` at byte 128 (the DICOM Part 10 signature).
pub fn is_dicom(path: &Path) -> bool {
    let mut head = [0u8; 132];
    match std::fs::File::open(path) {
        Ok(mut f) => f.read_exact(&mut head).is_ok() && is_signed(&head),
        Err(_) => false,
    }
}

/// True when a file's bytes have `DICM` at byte 128, as [`is_dicom`] checks on disk.
pub fn is_signed(bytes: &[u8]) -> bool {
    bytes.get(128..132) == Some(b"DICM".as_slice())
}

/// Joins a `/`-separated relative path to a root.
pub fn join(root: &Path, rel: &str) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(rel.split('/'));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_original_id_to_the_study_id_in_every_component() {
        assert_eq!(
            map_rel("101_T1/IM-101.dcm", Some("101"), Some("sub-01"), None),
            "sub-01_T1/IM-sub-01.dcm"
        );
        assert_eq!(map_rel("a/b.dcm", Some("101"), None, None), "a/b.dcm");
        assert_eq!(map_rel("a/b.dcm", Some(""), Some("x"), None), "a/b.dcm");
    }

    #[test]
    fn uids_in_names_map_as_the_writer_renames_them() {
        let bytes = [7u8; 32];
        let (mine, writers) = (Key::new(bytes), crate::deid::StudyKey::from_bytes(bytes));
        for rel in [
            "1.3.12.2.1107.5.2.32.35162.2013102415040717859311017.dcm",
            "S_1.2.840.113619.2.1.1.1/IM1.dcm",
            "101_T1/IM-0001.dcm",
            "x.1.2.840.113619.2.1.1.1/2.25.1/1.2.3.4.5.6.7.8.9..dcm",
            "2.25.302587365941772113465719236571286153217/v2.25.1234567890123.dcm",
        ] {
            let want = crate::anonymize::standard::renamed_uids(rel, &writers);
            assert_eq!(keyed_uid_names(rel, &mine), want, "{rel}");
        }
        let u = "1.3.12.2.1107.5.2.32.35162.2013102415040717859311017";
        let got = map_rel(
            &format!("P101/{u}.dcm"),
            Some("P101"),
            Some("sub-01"),
            Some(&mine),
        );
        assert_eq!(got, format!("sub-01/{}.dcm", mine.uid(u)));
        assert!(got.contains("2.25.") && !got.contains(u));
        assert_eq!(
            keyed_uid_names("S_1.2.840.113619.2.1.1.1/IM1.dcm", &mine),
            format!("S_{}/IM1.dcm", mine.uid("1.2.840.113619.2.1.1.1"))
        );
        // Without a key (the lab profile) only the ID rule applies.
        assert_eq!(
            map_rel(&format!("{u}.dcm"), None, None, None),
            format!("{u}.dcm")
        );
    }

    #[test]
    fn lists_sorted_relative_paths_and_refuses_a_missing_root() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("b/c")).unwrap();
        std::fs::write(d.path().join("b/c/x"), b"").unwrap();
        std::fs::write(d.path().join("a"), b"").unwrap();
        let l = list(d.path()).unwrap();
        assert_eq!(l.files, ["a", "b/c/x"]);
        assert_eq!(l.dirs, ["b", "b/c"]);
        let e = list(&d.path().join("nope")).unwrap_err().to_string();
        assert!(e.contains("cannot find folder"), "{e}");
    }

    #[test]
    fn tells_dicom_by_its_signature() {
        let d = tempfile::tempdir().unwrap();
        let mut bytes = vec![0u8; 128];
        bytes.extend_from_slice(b"DICM");
        std::fs::write(d.path().join("y"), &bytes).unwrap();
        std::fs::write(d.path().join("n"), b"notes").unwrap();
        assert!(is_dicom(&d.path().join("y")));
        assert!(!is_dicom(&d.path().join("n")));
        assert!(!is_dicom(&d.path().join("missing")));
        assert!(is_signed(&bytes) && !is_signed(b"notes") && !is_signed(&bytes[1..]));
    }
}
