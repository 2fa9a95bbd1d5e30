//! A participant's folder on disk: the rules the writer and the verifier share, each in one
//! place.
//!
//! - [`list`]: every file under a folder, with the one symlink rule: a link is followed when
//!   its target lies inside the listed folder, and refused (listed in [`Listing::refused`], for
//!   a note) when it points outside, points nowhere, or loops back to a folder above it;
//! - [`renamed`]: the original ID replaced by the study ID in every file and folder name;
//! - [`check_apart`]: refusing a raw and an anonymized folder that overlap, on disk.
//!
//! The verifier uses these too although it is otherwise independent of the writer: which files
//! make up a participant and where each one's copy goes are conventions of the study, not
//! judgements about a file's content (those the verifier makes on its own).

use crate::error::{Error, Result};
use crate::finding::Finding;
use std::path::{Path, PathBuf};

/// Every file and folder under a root, as sorted `/`-separated relative paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Regular files (through links that stay inside the root, too).
    pub files: Vec<String>,
    /// Folders (likewise).
    pub dirs: Vec<String>,
    /// Symbolic links not followed, and why.
    pub refused: Vec<RefusedLink>,
}

/// A symbolic link [`list`] did not follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedLink {
    /// The link's path relative to the root.
    pub rel: String,
    pub why: LinkProblem,
}

/// Why a symbolic link was not followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkProblem {
    /// It points outside the listed folder (another participant's data could be there).
    Outside,
    /// Its target does not exist.
    Broken,
    /// It points to a folder that holds it: following it would never end.
    Loop,
}

impl RefusedLink {
    /// The finding for a participant's report and note. Names the link, never its target.
    pub fn finding(&self) -> Finding {
        let what = match self.why {
            LinkProblem::Outside => {
                "is a symbolic link to a place outside the participant's folder; not followed \
                 (hint: copy the data into the folder, or link the whole participant folder)"
            }
            LinkProblem::Broken => {
                "is a symbolic link to nothing (its target is gone); not followed"
            }
            LinkProblem::Loop => "is a symbolic link to a folder that holds it; not followed",
        };
        Finding::new(what).file(self.rel.clone())
    }
}

/// Lists `root` recursively by the one symlink rule (see the module documentation). Files that
/// are neither regular files nor folders (sockets, pipes) are left out. Unreadable folders are
/// an error naming them.
pub fn list(root: &Path) -> Result<Listing> {
    let top = root.canonicalize().map_err(|e| Error::read(root, e))?;
    let mut out = Listing::default();
    // (path as reached, relative path, canonical path): the canonical one tells links apart.
    let mut stack: Vec<(PathBuf, String, PathBuf)> =
        vec![(root.to_path_buf(), String::new(), top.clone())];
    while let Some((dir, rel, canonical)) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| Error::read(&dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::read(&dir, e))?;
            let name = entry.file_name();
            let child_rel = if rel.is_empty() {
                name.to_string_lossy().into_owned()
            } else {
                format!("{rel}/{}", name.to_string_lossy())
            };
            let path = entry.path();
            // The entry's type comes with the listing on most file systems: no query per file.
            let ft = entry.file_type().map_err(|e| Error::read(&path, e))?;
            let (target, is_dir, is_file) = if ft.is_symlink() {
                let refuse = |why| RefusedLink {
                    rel: child_rel.clone(),
                    why,
                };
                let Ok(target) = path.canonicalize() else {
                    out.refused.push(refuse(LinkProblem::Broken));
                    continue;
                };
                if !target.starts_with(&top) {
                    out.refused.push(refuse(LinkProblem::Outside));
                    continue;
                }
                let meta = std::fs::metadata(&target).map_err(|e| Error::read(&path, e))?;
                if meta.is_dir() && canonical.starts_with(&target) {
                    out.refused.push(refuse(LinkProblem::Loop));
                    continue;
                }
                (Some(target), meta.is_dir(), meta.is_file())
            } else {
                (None, ft.is_dir(), ft.is_file())
            };
            if is_dir {
                out.dirs.push(child_rel.clone());
                let target = target.unwrap_or_else(|| canonical.join(&name));
                stack.push((path, child_rel, target));
            } else if is_file {
                out.files.push(child_rel);
            }
        }
    }
    out.files.sort();
    out.dirs.sort();
    out.refused.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok(out)
}

/// `rel` (`/`-separated) with the original ID replaced by the study ID in every file and folder
/// name; unchanged when `original` is empty.
pub fn renamed(rel: &str, original: &str, study: &str) -> String {
    if original.is_empty() {
        return rel.to_string();
    }
    rel.split('/')
        .map(|part| part.replace(original, study))
        .collect::<Vec<_>>()
        .join("/")
}

/// Refuses an anonymized folder inside (or equal to) the raw folder, or the other way round:
/// the raw folder must never be written, and the output must not be read back as input.
/// Compared on disk (links resolved); the anonymized folder need not exist yet.
///
/// # Errors
/// [`Error::Usage`] naming both folders when they overlap; a read error when the raw folder
/// cannot be resolved.
pub fn check_apart(raw: &Path, anon: &Path) -> Result<()> {
    let raw_c = raw.canonicalize().map_err(|e| Error::read(raw, e))?;
    let anon_c = existing_ancestor_canonical(anon);
    if anon_c.starts_with(&raw_c) || raw_c.starts_with(&anon_c) {
        return Err(Error::Usage(format!(
            "the anon folder `{}` and the raw folder `{}` overlap (hint: the anonymized copy must go to a separate folder, outside the raw one)",
            anon.display(),
            raw.display()
        )));
    }
    Ok(())
}

/// The canonical form of `p`, resolving its nearest existing ancestor when `p` does not exist yet.
fn existing_ancestor_canonical(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut base = abs.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = base.canonicalize() {
            let mut out = c;
            for r in rest.iter().rev() {
                out.push(r);
            }
            return out;
        }
        match (base.parent(), base.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                base = parent;
            }
            _ => return abs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn names_holding_the_original_id_get_the_study_id() {
        assert_eq!(
            renamed("101/dwi/101_0001.dcm", "101", "sub-01"),
            "sub-01/dwi/sub-01_0001.dcm"
        );
        assert_eq!(renamed("a/b.dcm", "101", "sub-01"), "a/b.dcm");
        assert_eq!(renamed("a/b.dcm", "", "sub-01"), "a/b.dcm");
    }

    #[test]
    fn overlapping_folders_are_refused() {
        let t = tempfile::tempdir().unwrap();
        let raw = t.path().join("raw");
        std::fs::create_dir_all(&raw).unwrap();
        assert!(check_apart(&raw, &raw).is_err());
        assert!(check_apart(&raw, &raw.join("anon")).is_err());
        assert!(check_apart(&raw.join("x/.."), &t.path().join("raw/new")).is_err());
        assert!(check_apart(&raw, t.path()).is_err());
        assert!(check_apart(&raw, &t.path().join("anon")).is_ok());
    }

    #[test]
    fn links_inside_are_followed_and_links_outside_refused() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("raw");
        std::fs::create_dir_all(root.join("store/T1")).unwrap();
        std::fs::write(root.join("store/T1/a.dcm"), b"").unwrap();
        std::fs::create_dir_all(t.path().join("elsewhere")).unwrap();
        std::fs::write(t.path().join("elsewhere/b.dcm"), b"").unwrap();
        symlink(root.join("store/T1"), root.join("T1")).unwrap();
        symlink(root.join("store/T1/a.dcm"), root.join("c.dcm")).unwrap();
        symlink(t.path().join("elsewhere"), root.join("other")).unwrap();
        symlink(t.path().join("elsewhere/b.dcm"), root.join("b.dcm")).unwrap();
        symlink(root.join("gone"), root.join("broken")).unwrap();
        symlink(&root, root.join("store/up")).unwrap();
        let l = list(&root).unwrap();
        assert_eq!(l.files, ["T1/a.dcm", "c.dcm", "store/T1/a.dcm"]);
        assert_eq!(l.dirs, ["T1", "store", "store/T1"]);
        let refused: Vec<_> = l.refused.iter().map(|r| (r.rel.as_str(), r.why)).collect();
        assert_eq!(
            refused,
            [
                ("b.dcm", LinkProblem::Outside),
                ("broken", LinkProblem::Broken),
                ("other", LinkProblem::Outside),
                ("store/up", LinkProblem::Loop),
            ]
        );
        let f = l.refused[0].finding().to_string();
        assert!(
            f.starts_with("b.dcm is a symbolic link to a place outside"),
            "{f}"
        );
        assert!(!f.contains("elsewhere"), "{f}");
    }

    /// Types come from the listing: folders at every depth are walked, regular files listed,
    /// a socket and a named pipe left out.
    #[test]
    fn nested_folders_are_walked_and_sockets_and_pipes_left_out() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("raw");
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::create_dir_all(root.join("empty")).unwrap();
        std::fs::write(root.join("a/b/c/x.dcm"), b"x").unwrap();
        std::fs::write(root.join("a/y.dcm"), b"").unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(root.join("a/sock")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(root.join("a/b/pipe"))
            .status()
            .is_ok_and(|s| s.success());
        let l = list(&root).unwrap();
        assert_eq!(l.files, ["a/b/c/x.dcm", "a/y.dcm"]);
        assert_eq!(l.dirs, ["a", "a/b", "a/b/c", "empty"]);
        assert!(l.refused.is_empty());
        // The pipe was there to be left out (mkfifo is in every Linux and macOS base system).
        assert!(fifo || !cfg!(target_os = "linux"));
    }

    #[test]
    fn a_linked_root_is_listed_through_its_link() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("data/101/T1")).unwrap();
        std::fs::write(t.path().join("data/101/T1/a.dcm"), b"").unwrap();
        symlink(t.path().join("data/101"), t.path().join("101")).unwrap();
        assert_eq!(list(&t.path().join("101")).unwrap().files, ["T1/a.dcm"]);
        assert!(list(&t.path().join("nope")).is_err());
    }
}
