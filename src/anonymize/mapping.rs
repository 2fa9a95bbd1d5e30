//! The mapping files `--write-mapping DIR` asks for: `uid_mapping.csv` (each original UID the
//! participant's files held -> its keyed UID) and `patid_mapping.csv` (Original ID -> sheet ID),
//! for audits and MIDI-B-style scoring.
//!
//! They re-identify the output, so they exist only on request: written owner-only (mode 0600)
//! in a folder made owner-only, through a temp file and a rename, merged with what the files
//! already hold (one line per pair, whatever the number of participants and re-runs), never
//! printed. The lab profile changes no UID, so it writes `patid_mapping.csv` only. Nothing here
//! decides which UIDs were replaced: the writer reports them ([`super::ParticipantRun`]).

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::Path;

/// The UID mapping file's name.
pub const UID_FILE: &str = "uid_mapping.csv";
/// The participant ID mapping file's name.
pub const PATID_FILE: &str = "patid_mapping.csv";
const HEADER: &str = "old,new";

/// Merges one participant into the mapping files in `dir` (made if missing): the ID pair into
/// `patid_mapping.csv`, and, when `uids` is given (a standard profile), each `(old, new)` pair
/// into `uid_mapping.csv`. Errors name the file, never a value.
pub fn write(dir: &Path, ids: (&str, &str), uids: Option<&[(String, String)]>) -> io::Result<()> {
    make_dir(dir)?;
    merge(&dir.join(PATID_FILE), std::iter::once(line(ids.0, ids.1)))?;
    if let Some(uids) = uids {
        merge(&dir.join(UID_FILE), uids.iter().map(|(o, n)| line(o, n)))?;
    }
    Ok(())
}

/// Merges the mapping files in `part` (one participant's, written by [`write()`] into a folder of
/// its own, as a cluster task does) into those in `dir`, the same way. Files missing from
/// `part` are skipped; a file there without the `old,new` header is refused.
pub fn merge_part(part: &Path, dir: &Path) -> io::Result<()> {
    for name in [PATID_FILE, UID_FILE] {
        let from = part.join(name);
        let text = match std::fs::read_to_string(&from) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(named(&from, e)),
        };
        let mut lines = text.lines();
        if lines.next().map(str::trim_end) != Some(HEADER) {
            return Err(named(
                &from,
                io::Error::other("it is not a mapping file (no `old,new` header)"),
            ));
        }
        make_dir(dir)?;
        merge(
            &dir.join(name),
            lines.filter(|l| !l.trim().is_empty()).map(str::to_string),
        )?;
    }
    Ok(())
}

/// Makes `dir` owner-only if it is missing.
fn make_dir(dir: &Path) -> io::Result<()> {
    if !dir.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        // Windows has no mode bits: there the folder gets its parent's permissions.
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir)?;
    }
    Ok(())
}

/// One CSV line (RFC 4180 quoting where a field needs it).
fn line(old: &str, new: &str) -> String {
    format!("{},{}", field(old.trim()), field(new.trim()))
}

fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Rewrites `path` with its lines plus the new ones not already there (temp, then rename).
/// A file that does not start with the `old,new` header is not ours: refused, not replaced.
fn merge(path: &Path, new: impl Iterator<Item = String>) -> io::Result<()> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(named(path, e)),
    };
    let mut lines = existing.lines();
    if !existing.is_empty() && lines.next().map(str::trim_end) != Some(HEADER) {
        return Err(named(
            path,
            io::Error::other("it exists and is not a mapping file (no `old,new` header)"),
        ));
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut out = String::with_capacity(existing.len() + 256);
    out.push_str(HEADER);
    out.push('\n');
    for l in lines.filter(|l| !l.trim().is_empty()) {
        if seen.insert(l) {
            out.push_str(l);
            out.push('\n');
        }
    }
    let new: Vec<String> = new.collect();
    let mut added = false;
    for l in &new {
        if seen.insert(l.as_str()) {
            out.push_str(l);
            out.push('\n');
            added = true;
        }
    }
    if !added && out == existing {
        return Ok(()); // nothing new: the file stays as it is
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut builder = tempfile::Builder::new();
    builder.prefix(".anontrack-mapping-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o600));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(|e| named(path, e))?;
    tmp.write_all(out.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| named(path, e))?;
    tmp.persist(path).map_err(|e| named(path, e.error))?;
    Ok(())
}

fn named(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(
        e.kind(),
        format!("cannot write the mapping file `{}`: {e}", path.display()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn merges_without_duplicates_owner_only() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("map");
        let a = pairs(&[("1.2.3.4", "2.25.1"), ("1.2.3.5", "2.25.2")]);
        write(&dir, ("101", "sub-01"), Some(&a)).unwrap();
        write(&dir, ("101", "sub-01"), Some(&a)).unwrap(); // a re-run
        let b = pairs(&[("1.2.3.5", "2.25.2"), ("1.2.9", "2.25.3")]);
        write(&dir, ("10,2", "sub-02"), Some(&b)).unwrap();
        let uids = std::fs::read_to_string(dir.join(UID_FILE)).unwrap();
        assert_eq!(
            uids,
            "old,new\n1.2.3.4,2.25.1\n1.2.3.5,2.25.2\n1.2.9,2.25.3\n"
        );
        let ids = std::fs::read_to_string(dir.join(PATID_FILE)).unwrap();
        assert_eq!(ids, "old,new\n101,sub-01\n\"10,2\",sub-02\n");
        for f in [UID_FILE, PATID_FILE] {
            let mode = std::fs::metadata(dir.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(names.len(), 2, "a temp file was left");
    }

    #[test]
    fn parts_merge_into_the_shared_files_without_duplicates() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, dir) = (t.path().join("a"), t.path().join("b"), t.path().join("map"));
        write(&a, ("101", "sub-01"), Some(&pairs(&[("1.2.3", "2.25.1")]))).unwrap();
        write(&b, ("102", "sub-02"), Some(&pairs(&[("1.2.4", "2.25.2")]))).unwrap();
        for part in [&a, &b, &a] {
            merge_part(part, &dir).unwrap();
        }
        let uids = std::fs::read_to_string(dir.join(UID_FILE)).unwrap();
        assert_eq!(uids, "old,new\n1.2.3,2.25.1\n1.2.4,2.25.2\n");
        let ids = std::fs::read_to_string(dir.join(PATID_FILE)).unwrap();
        assert_eq!(ids, "old,new\n101,sub-01\n102,sub-02\n");
        let mode = std::fs::metadata(dir.join(UID_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::write(a.join(UID_FILE), "name,age\n").unwrap();
        assert!(merge_part(&a, &dir).is_err());
    }

    #[test]
    fn the_lab_profile_writes_ids_only_and_a_foreign_file_is_not_replaced() {
        let t = tempfile::tempdir().unwrap();
        write(t.path(), ("101", "sub-01"), None).unwrap();
        assert!(!t.path().join(UID_FILE).exists());
        std::fs::write(t.path().join(UID_FILE), "name,age\nx,1\n").unwrap();
        let e = write(
            t.path(),
            ("101", "sub-01"),
            Some(&pairs(&[("1.2", "2.25.1")])),
        );
        assert!(e.unwrap_err().to_string().contains("not a mapping file"));
        assert_eq!(
            std::fs::read_to_string(t.path().join(UID_FILE)).unwrap(),
            "name,age\nx,1\n"
        );
    }
}
