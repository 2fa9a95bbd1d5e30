//! `anontrack anonymize`'s own staging: the output is written into a hidden folder beside the
//! output folder (same filesystem, so one rename publishes it), and moved into place only when
//! the run completed. Ctrl-C, a crash or a full disk leave the output folder as it was.
//!
//! An existing output folder keeps today's meaning (files from an earlier run are replaced,
//! other files stay): its tree is hard-linked into the staging folder first (copied where links
//! are refused), the writer replaces files there by temp and rename (never writing through a
//! link), and [`crate::staging::publish`] swaps the two folders. `sync` stages under
//! `.anontrack/` instead ([`crate::staging::staging_for`]). Nothing here prints.

use std::io;
use std::path::{Path, PathBuf};

/// The hidden folder holding one output folder's staged copy.
const PREFIX: &str = ".anontrack-partial-";

/// A staged output: where the writer writes, and where it goes when complete.
#[derive(Debug)]
pub struct Staged {
    /// The output folder people look at (its real path when it is a link to a folder).
    pub out: PathBuf,
    /// The folder the writer writes into: `<parent of out>/.anontrack-partial-<name>/<name>`.
    pub dir: PathBuf,
    /// The output folder existed before this run.
    pub existed: bool,
}

impl Staged {
    /// The staging folder for `out`; one left by an earlier, killed run is removed first. When
    /// `out` exists, its tree is linked (or copied) into the staging folder.
    pub fn prepare(out: &Path) -> io::Result<Self> {
        if out.exists() && !out.is_dir() {
            return Err(io::Error::other("it exists and is not a folder"));
        }
        let existed = out.is_dir();
        let out = if existed {
            out.canonicalize()?
        } else {
            std::path::absolute(out)?
        };
        let name = out
            .file_name()
            .ok_or_else(|| io::Error::other("the output folder has no name"))?
            .to_os_string();
        let parent = out.parent().unwrap_or(Path::new("/")).to_path_buf();
        let mut root_name = std::ffi::OsString::from(PREFIX);
        root_name.push(&name);
        let dir = parent.join(root_name).join(&name);
        // A run killed between publishing's two renames left the older output here, and no
        // output in place: it goes back first, never removed with the staging folder.
        let replaced = crate::staging::staging_root(&dir).join(".replaced");
        let existed = if !existed && replaced.is_dir() {
            std::fs::rename(&replaced, &out)?;
            true
        } else {
            existed
        };
        crate::staging::clear(&dir)?;
        std::fs::create_dir_all(dir.parent().unwrap_or(&parent))?;
        if existed {
            link_tree(&out, &dir)?;
        }
        Ok(Self { out, dir, existed })
    }

    /// Moves the staged output into place (flushed first; an older output is swapped out in
    /// one rename and removed).
    pub fn publish(self) -> io::Result<()> {
        if !self.dir.exists() {
            return self.discard();
        }
        crate::staging::publish(&self.dir, &self.out)
    }

    /// Removes the staging folder and everything in it; the output folder is untouched.
    pub fn discard(self) -> io::Result<()> {
        crate::staging::clear(&self.dir)
    }
}

/// Recreates `from`'s tree at `to`: folders made, files hard-linked (copied where the
/// filesystem refuses), symbolic links recreated as links.
fn link_tree(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    let mut stack = vec![(from.to_path_buf(), to.to_path_buf())];
    while let Some((src, dst)) = stack.pop() {
        for entry in std::fs::read_dir(&src)? {
            let entry = entry?;
            let (s, d) = (entry.path(), dst.join(entry.file_name()));
            let ft = entry.file_type()?;
            if ft.is_dir() {
                std::fs::create_dir(&d)?;
                stack.push((s, d));
            } else if ft.is_symlink() {
                relink(&s, &d)?;
            } else if std::fs::hard_link(&s, &d).is_err() {
                std::fs::copy(&s, &d)?;
            }
        }
    }
    Ok(())
}

/// Makes `d` a symbolic link to where the link `s` points.
#[cfg(unix)]
fn relink(s: &Path, d: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(std::fs::read_link(s)?, d)
}

/// Makes `d` a symbolic link to where the link `s` points (a folder link as a folder link).
#[cfg(windows)]
fn relink(s: &Path, d: &Path) -> io::Result<()> {
    let target = std::fs::read_link(s)?;
    if s.is_dir() {
        std::os::windows::fs::symlink_dir(target, d)
    } else {
        std::os::windows::fs::symlink_file(target, d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_output_is_swapped_whole_and_keeps_its_other_files() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("anon");
        std::fs::create_dir_all(out.join("s1")).unwrap();
        std::fs::write(out.join("s1/a.dcm"), b"old").unwrap();
        std::fs::write(out.join("notes.txt"), b"mine").unwrap();
        let st = Staged::prepare(&out).unwrap();
        assert!(st.existed);
        assert!(st.dir.starts_with(t.path()) && !st.dir.starts_with(&out));
        // The writer replaces by rename: the old file behind the link is not touched.
        std::fs::write(st.dir.join("s1/.tmp"), b"new").unwrap();
        std::fs::rename(st.dir.join("s1/.tmp"), st.dir.join("s1/a.dcm")).unwrap();
        assert_eq!(std::fs::read(out.join("s1/a.dcm")).unwrap(), b"old");
        st.publish().unwrap();
        assert_eq!(std::fs::read(out.join("s1/a.dcm")).unwrap(), b"new");
        assert_eq!(std::fs::read(out.join("notes.txt")).unwrap(), b"mine");
        let left: Vec<_> = std::fs::read_dir(t.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "staging left behind");
    }

    #[test]
    fn an_older_output_left_mid_swap_goes_back_in_place() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("anon");
        let root = t.path().join(".anontrack-partial-anon");
        std::fs::create_dir_all(root.join(".replaced")).unwrap();
        std::fs::write(root.join(".replaced/a.dcm"), b"old").unwrap();
        let st = Staged::prepare(&out).unwrap();
        assert!(st.existed);
        assert_eq!(std::fs::read(out.join("a.dcm")).unwrap(), b"old");
        assert_eq!(std::fs::read(st.dir.join("a.dcm")).unwrap(), b"old");
        assert!(!root.join(".replaced").exists());
        std::fs::write(t.path().join("file"), b"x").unwrap();
        assert!(Staged::prepare(&t.path().join("file")).is_err());
    }

    #[test]
    fn discarding_leaves_no_trace_and_a_new_output_absent() {
        let t = tempfile::tempdir().unwrap();
        let out = t.path().join("anon");
        let st = Staged::prepare(&out).unwrap();
        std::fs::create_dir_all(&st.dir).unwrap();
        std::fs::write(st.dir.join("a.dcm"), b"x").unwrap();
        st.discard().unwrap();
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }
}
