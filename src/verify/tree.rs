//! The two folder trees: listing files, pairing each raw file with its anonymized copy, and
//! telling DICOM files from the rest.
//!
//! The anonymized tree mirrors the raw tree's relative paths, except that a path component holding
//! the original ID carries the study ID in its place. Non-DICOM raw files (no `DICM` at byte 128:
//! notes, DICOMDIR, .DS_Store) are expected to be absent from the anonymized tree.

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
/// (the study's naming rule, [`crate::folder::renamed`]; without a study ID, unchanged).
pub fn map_rel(rel: &str, original: Option<&str>, study: Option<&str>) -> String {
    match (original, study) {
        (Some(o), Some(s)) => crate::folder::renamed(rel, o, s),
        _ => rel.to_string(),
    }
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
            map_rel("101_T1/IM-101.dcm", Some("101"), Some("sub-01")),
            "sub-01_T1/IM-sub-01.dcm"
        );
        assert_eq!(map_rel("a/b.dcm", Some("101"), None), "a/b.dcm");
        assert_eq!(map_rel("a/b.dcm", Some(""), Some("x")), "a/b.dcm");
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
