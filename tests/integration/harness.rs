//! Shared test helpers: a temporary work folder and a runner for the real binary, finding
//! `../shared` and external tools (skip with a note, or fail under `ANONTRACK_REQUIRE_TOOLS=1`),
//! and listing or copying file trees.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The real binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_anontrack"))
}

/// The shared folder: `$ANONTRACK_SHARED` when it names a folder (a checkout that does not sit
/// beside `shared`), else `../shared` beside the repository (CI), else `None`.
pub fn shared() -> Option<PathBuf> {
    std::env::var_os("ANONTRACK_SHARED")
        .map(PathBuf::from)
        .filter(|p| p.is_dir())
        .or_else(|| {
            let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared");
            p.is_dir().then_some(p)
        })
}

/// The shared folder, or `None` after [`skip_or_fail`] (a failure under
/// `ANONTRACK_REQUIRE_TOOLS=1`).
#[track_caller]
pub fn shared_or_skip() -> Option<PathBuf> {
    let s = shared();
    require("../shared (or $ANONTRACK_SHARED)", s.is_some());
    s
}

/// `sub` inside the shared folder when it exists, or `None` after [`skip_or_fail`].
#[track_caller]
pub fn shared_path(sub: &str) -> Option<PathBuf> {
    let p = shared().map(|s| s.join(sub)).filter(|p| p.exists());
    require(&format!("../shared/{sub}"), p.is_some());
    p
}

/// Copies the lab's workbook (`../shared/sheet/STUDYNAME_dataprocessing.xlsx`) into `w` as
/// `name`; `None` (after [`skip_or_fail`]) without it.
#[track_caller]
pub fn copy_lab_workbook(w: &Workdir, name: &str) -> Option<PathBuf> {
    let src = shared_path("sheet/STUDYNAME_dataprocessing.xlsx")?;
    let dst = w.join(name);
    std::fs::copy(src, &dst).expect("copy the lab's workbook");
    Some(dst)
}

/// True under `ANONTRACK_REQUIRE_TOOLS=1` (CI): a missing tool or `../shared` is a failure.
pub fn tools_required() -> bool {
    std::env::var("ANONTRACK_REQUIRE_TOOLS").as_deref() == Ok("1")
}

/// True when `cmd ARGS` runs and exits with success (e.g. `("python3", ["-c", "import pydicom"])`).
pub fn tool_present(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Prints why a test (or one check in it) is skipped: `what` is missing. Under
/// `ANONTRACK_REQUIRE_TOOLS=1` it fails instead.
#[track_caller]
pub fn skip_or_fail(what: &str) {
    assert!(
        !tools_required(),
        "{what} is missing, and ANONTRACK_REQUIRE_TOOLS=1"
    );
    eprintln!("note: skipping: {what} is missing");
    // `cargo test` hides what a passing test prints; a direct write to stderr is not captured,
    // so each missing checker shows once in the summary.
    static SHOWN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut shown = SHOWN.lock().unwrap_or_else(|e| e.into_inner());
    if !shown.iter().any(|w| w == what) {
        shown.push(what.to_string());
        let _ = writeln!(
            std::io::stderr(),
            "note: tests that need {what} skip those checks: it is missing (ANONTRACK_REQUIRE_TOOLS=1 fails instead)"
        );
    }
}

/// `present`, after [`skip_or_fail`] when it is false: `if !require("dcmdump", ...) { return; }`.
#[track_caller]
pub fn require(what: &str, present: bool) -> bool {
    if !present {
        skip_or_fail(what);
    }
    present
}

/// A temporary folder in which the binary runs.
pub struct Workdir {
    pub dir: tempfile::TempDir,
}

impl Workdir {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `path` joined to the work folder.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Runs `anontrack ARGS` in the work folder.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let out = Command::new(bin())
            .args(args)
            .current_dir(self.path())
            .env_remove("RUST_LOG")
            .output()
            .expect("run anontrack");
        Run { out }
    }
}

/// The result of one run of the binary.
pub struct Run {
    pub out: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    /// Asserts the exit code, showing both streams on failure.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// stdout parsed as one JSON value per line.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
            .collect()
    }
}

/// SHA-256 of every file under `dir`, by relative path: to prove a tree was not touched.
pub fn tree_hash(dir: &Path) -> Vec<(String, String)> {
    use sha2::{Digest, Sha256};
    listing(dir)
        .into_iter()
        .map(|rel| {
            let bytes = std::fs::read(dir.join(&rel)).expect("read file");
            let hex: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (rel, hex)
        })
        .collect()
}

/// Every file under `dir` (recursively), as paths relative to it with `/`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = files_under(dir)
        .iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

/// Every file under `dir` (recursively), as full paths, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let p = entry.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Copies the tree `from` to `to`; the copies are writable even where the sources are read-only,
/// so the temp folder can be cleaned.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let p = e.path();
        if p.is_dir() {
            copy_tree(&p, &to.join(e.file_name()));
        } else {
            let dst = to.join(e.file_name());
            std::fs::copy(&p, &dst).unwrap();
            let mut perm = std::fs::metadata(&dst).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dst, perm).unwrap();
        }
    }
}
