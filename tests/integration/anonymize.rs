//! Tests of `anonymize`: the writer on every real file in `../shared/dicom` (checked with our own
//! element spans, the independent `dicom_diff.py` oracle, pydicom, dcmdump and dcm2niix), a
//! property test over random profiles, and the command on synthetic participants.
//!
//! Never print DICOM values here: some shared files hold real-looking names.

use crate::harness::{
    self, Workdir, copy_tree, files_under, listing, require, tool_present, tree_hash,
};
use anontrack::anonymize::locate::{self, Element, Encoding};
use anontrack::anonymize::patch::{holds_sequence, padded};
use anontrack::anonymize::{Anonymizer, FileError, Profile};
use chrono::NaiveDate;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A copy of `../shared/dicom` in a temp folder (the shared folder is never written).
fn shared_copy() -> Option<(tempfile::TempDir, PathBuf)> {
    let shared = harness::shared_path("dicom")?;
    let t = tempfile::tempdir().unwrap();
    let raw = t.path().join("raw");
    copy_tree(&shared, &raw);
    Some((t, raw))
}

fn pydicom_present() -> bool {
    tool_present("python3", &["-c", "import pydicom"])
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 31).unwrap()
}

/// Top-level elements of a Part 10 buffer, with the encoding (None: deflated or not walkable).
fn spans(buf: &[u8]) -> Option<(Encoding, usize, Vec<Element>)> {
    let m = locate::meta(buf).ok()?;
    if m.transfer_syntax == locate::TS_DEFLATED {
        return None;
    }
    let enc = Encoding::of(m.transfer_syntax);
    let mut els = Vec::new();
    locate::top_level(buf, m.dataset_start, enc, None, &mut els).ok()?;
    Some((enc, m.dataset_start, els))
}

/// What a rule should leave in the output: `Some(value bytes)` or `None` for removed.
type Expect = std::collections::HashMap<u32, Option<Vec<u8>>>;

fn expectations(profile: &Profile) -> Expect {
    use anontrack::anonymize::profile::Action;
    profile
        .rules
        .iter()
        .map(|r| {
            let tag = (u32::from(r.tag.0) << 16) | u32::from(r.tag.1);
            let v = match &r.action {
                Action::Replace(v) => Some(padded(v)),
                Action::RunDate => Some(padded(&date().format("%Y%m%d").to_string())),
                Action::Empty => Some(Vec::new()),
                Action::Remove => None,
            };
            (tag, v)
        })
        .collect()
}

/// Compares input and output element by element; returns a description of the first difference
/// that the profile does not explain (tags and offsets only, never values).
fn unexplained_difference(input: &[u8], output: &[u8], expect: &Expect) -> Option<String> {
    let (enc, ds_in, a) = spans(input)?;
    let Some((_, ds_out, b)) = spans(output) else {
        return Some("output not walkable".into());
    };
    if input[..ds_in] != output[..ds_out] {
        return Some("preamble or file meta differs".into());
    }
    let big = enc == Encoding::ExplicitBe;
    let mut bi = b.iter().peekable();
    let mut group_delta: std::collections::HashMap<u16, i64> = Default::default();
    for x in &a {
        let tag = format!("({:04X},{:04X})", x.tag >> 16, x.tag & 0xFFFF);
        match expect.get(&x.tag) {
            Some(None) => {
                if bi.peek().is_some_and(|y| y.tag == x.tag) {
                    return Some(format!("{tag} not removed"));
                }
                *group_delta.entry(x.group()).or_default() -= (x.end - x.start) as i64;
                continue;
            }
            Some(Some(v)) => {
                let y = bi.next()?;
                if y.tag != x.tag || y.value(output) != v.as_slice() {
                    return Some(format!("{tag} not set as the profile says"));
                }
                let (hx, hy) = (
                    &input[x.start..x.value_start],
                    &output[y.start..y.value_start],
                );
                let len_at = if x.value_start - x.start == 8 && x.vr.is_some() {
                    6..8
                } else {
                    hx.len() - 4..hx.len()
                };
                if hx[..len_at.start] != hy[..len_at.start] {
                    return Some(format!("{tag} header changed beyond its length"));
                }
                *group_delta.entry(x.group()).or_default() +=
                    (y.end - y.start) as i64 - (x.end - x.start) as i64;
            }
            None => {
                let Some(y) = bi.next() else {
                    return Some(format!("{tag} missing in output"));
                };
                if y.tag != x.tag {
                    return Some(format!("{tag} out of order in output"));
                }
                if x.bytes(input) != y.bytes(output) {
                    if x.tag & 0xFFFF == 0 {
                        continue; // group lengths: checked below
                    }
                    return Some(format!("{tag} changed"));
                }
            }
        }
    }
    if bi.next().is_some() {
        return Some("extra element in output".into());
    }
    for (x, y) in a
        .iter()
        .filter(|x| x.tag & 0xFFFF == 0)
        .zip(b.iter().filter(|y| y.tag & 0xFFFF == 0))
    {
        let rd = |buf: &[u8], e: &Element| {
            let v: [u8; 4] = e.value(buf).try_into().ok()?;
            Some(i64::from(if big {
                u32::from_be_bytes(v)
            } else {
                u32::from_le_bytes(v)
            }))
        };
        let (Some(vx), Some(vy)) = (rd(input, x), rd(output, y)) else {
            continue;
        };
        let d = group_delta.get(&x.group()).copied().unwrap_or(0);
        if vy != vx + d {
            return Some(format!("group length ({:04X},0000) not updated", x.group()));
        }
    }
    None
}

/// Files written and refused when the lab profile is applied to each file of `raw` into `out`.
type Written = Vec<(PathBuf, anontrack::anonymize::FileOutcome)>;
type Refused = Vec<(PathBuf, FileError)>;

fn anonymize_each(raw: &Path, out: &Path) -> (Written, Refused) {
    let profile = Profile::lab();
    let anonymizer = Anonymizer::new(&profile).date(date());
    let (mut written, mut refused) = (Vec::new(), Vec::new());
    for src in files_under(raw) {
        let rel = src.strip_prefix(raw).unwrap().to_path_buf();
        match anonymizer.anonymize_file(&src, &out.join(&rel)) {
            Ok(o) => written.push((rel, o)),
            Err(e) => refused.push((rel, e)),
        }
    }
    (written, refused)
}

#[test]
fn every_real_file_changes_only_in_the_profiles_elements() {
    let Some((t, raw)) = shared_copy() else {
        return;
    };
    let before = tree_hash(&raw);
    let out = t.path().join("out");
    let profile = Profile::lab();
    let expect = expectations(&profile);
    let (written, refused) = anonymize_each(&raw, &out);
    eprintln!("{} written, {} refused:", written.len(), refused.len());
    for (rel, e) in &refused {
        eprintln!("  {}: {e}", rel.display());
    }
    assert_eq!(tree_hash(&raw), before, "the raw tree changed");
    // Refusals are only for files that are not DICOM or are broken, never anything else.
    for (rel, e) in &refused {
        assert!(
            matches!(
                e,
                FileError::NotDicom
                    | FileError::Dicomdir
                    | FileError::Locate(_)
                    | FileError::Deflated(_)
            ),
            "{}: unexpected refusal {e}",
            rel.display()
        );
    }
    assert!(written.len() >= 180, "only {} files written", written.len());
    let mut failures = Vec::new();
    for (rel, o) in &written {
        let input = std::fs::read(raw.join(rel)).unwrap();
        let output = std::fs::read(out.join(rel)).unwrap();
        if o.reencoded {
            continue;
        }
        if let Some(why) = unexplained_difference(&input, &output, &expect) {
            failures.push(format!("{}: {why}", rel.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "unexplained differences:\n{}",
        failures.join("\n")
    );
    // Nothing was written beside the output files: no temp files left.
    let leftovers: Vec<_> = files_under(&out)
        .into_iter()
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".anontrack-tmp-")
        })
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn the_independent_oracle_sees_only_profile_elements_change() {
    let Some((t, raw)) = shared_copy() else {
        return;
    };
    let Some(script) = harness::shared_path("tools/dicom_diff.py") else {
        return;
    };
    if !require("python3", tool_present("python3", &["-c", "1"])) {
        return;
    }
    let out = t.path().join("out");
    let (written, refused) = anonymize_each(&raw, &out);
    let o = Command::new("python3")
        .arg(&script)
        .arg(&raw)
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "dicom_diff.py failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = String::from_utf8_lossy(&o.stdout);
    let profile = Profile::lab();
    let allowed: Vec<String> = profile.rules.iter().map(|r| r.tag.to_string()).collect();
    let refused: Vec<String> = refused
        .iter()
        .map(|(r, _)| r.to_string_lossy().into_owned())
        .collect();
    let reencoded: Vec<String> = written
        .iter()
        .filter(|(_, o)| o.reencoded)
        .map(|(r, _)| r.to_string_lossy().into_owned())
        .collect();
    let (mut walked, mut bad) = (0, Vec::new());
    for line in report.lines() {
        let Some((file, what)) = line.split_once(": ") else {
            continue;
        };
        if refused.iter().any(|r| r == file) && what.starts_with("missing in") {
            continue;
        }
        if what.starts_with("not walked") {
            // big endian and deflated: the oracle cannot read them (checked by our spans and pydicom)
            continue;
        }
        if reencoded.iter().any(|r| r == file) {
            continue;
        }
        let tag = what.split_whitespace().next().unwrap_or("");
        let ok = what.ends_with(" changed")
            && (allowed.iter().any(|a| a == tag) || tag.ends_with(",0000)"));
        if ok {
            walked += 1;
        } else {
            bad.push(line.to_string());
        }
    }
    assert!(
        bad.is_empty(),
        "the oracle found changes outside the profile:\n{}",
        bad.join("\n")
    );
    assert!(
        walked > 500,
        "the oracle saw only {walked} changed elements: did it compare anything?"
    );
}

#[test]
fn pydicom_and_dcmdump_read_every_output() {
    let Some((t, raw)) = shared_copy() else {
        return;
    };
    if !require("python3 with pydicom", pydicom_present()) {
        return;
    }
    if !require("dcmdump", tool_present("dcmdump", &["--version"])) {
        return;
    }
    let out = t.path().join("out");
    let (written, _) = anonymize_each(&raw, &out);
    let list: Vec<String> = written
        .iter()
        .map(|(r, _)| out.join(r).to_string_lossy().into_owned())
        .collect();
    let script = "import sys, pydicom\nbad = 0\nfor p in sys.stdin.read().splitlines():\n    try:\n        pydicom.dcmread(p)\n    except Exception as e:\n        bad += 1\n        print(p, type(e).__name__)\nprint('bad', bad)\n";
    let mut child = Command::new("python3")
        .args(["-W", "ignore", "-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(list.join("\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.trim_end().ends_with("bad 0"),
        "pydicom could not read:\n{text}"
    );
    let mut dcmdump_bad = Vec::new();
    for (rel, _) in &written {
        let ok = Command::new("dcmdump")
            .arg("-q")
            .arg(out.join(rel))
            .output()
            .is_ok_and(|o| o.status.success());
        if !ok {
            dcmdump_bad.push(rel.display().to_string());
        }
    }
    assert!(
        dcmdump_bad.is_empty(),
        "dcmdump could not read: {dcmdump_bad:?}"
    );
}

/// A made-up participant: copies of the two Siemens mosaics of `nibabel/` whose PatientID and
/// PatientName are set to `P101` and a made-up name (by the writer itself, with a custom
/// profile), in `raw/P101_scans/`, plus a note and a `.DS_Store` that are not DICOM.
fn participant(w: &Workdir) -> Option<PathBuf> {
    let src = harness::shared_path("dicom/nibabel")?;
    let raw = w.join("raw");
    let series = raw.join("P101_scans");
    let profile = Profile::from_toml(
        "fixture",
        "name='fixture'\n[[rule]]\ntag='0010,0010'\nkeyword='PatientName'\naction='replace'\nvalue='Testperson^Made^Up'\n[[rule]]\ntag='0010,0020'\nkeyword='PatientID'\naction='replace'\nvalue='P101'\n",
    )
    .unwrap();
    let fixture = Anonymizer::new(&profile);
    for (from, to) in [("0.dcm", "P101_0001.dcm"), ("1.dcm", "P101_0002.dcm")] {
        fixture
            .anonymize_file(&src.join(from), &series.join(to))
            .unwrap();
    }
    std::fs::write(raw.join("notes.txt"), "scan notes").unwrap();
    std::fs::write(series.join(".DS_Store"), [0u8; 40]).unwrap();
    Some(raw)
}

fn anonymize_cmd(w: &Workdir, original: &str, extra: &[&str]) -> harness::Run {
    let mut args = vec![
        "anonymize",
        "raw",
        "anon",
        "--original-id",
        original,
        "--study-id",
        "sub-01",
        "--date",
        "20240131",
    ];
    args.extend_from_slice(extra);
    w.run(args)
}

#[test]
fn anonymize_writes_the_participant_and_reports_it() {
    let w = Workdir::new();
    let Some(raw) = participant(&w) else { return };
    let before = tree_hash(&raw);
    let run = anonymize_cmd(&w, "P101", &["--json"]);
    run.expect_code(0);
    assert_eq!(tree_hash(&raw), before, "the raw tree changed");
    let json = &run.json_lines()[0];
    assert_eq!(json["date"], "20240131");
    assert_eq!(json["written"].as_array().unwrap().len(), 2);
    assert_eq!(json["written"][0]["anon"], "sub-01_scans/sub-01_0001.dcm");
    assert_eq!(
        json["not_dicom"],
        serde_json::json!(["P101_scans/.DS_Store", "notes.txt"])
    );
    assert_eq!(json["findings"], serde_json::json!([]));
    let creators = json["private_creators"].as_array().unwrap();
    assert!(
        creators.iter().any(|c| c["tag"] == "(0029,1009)"
            && c["creator"] == "SIEMENS CSA HEADER"
            && c["files"] == 2),
        "{creators:?}"
    );
    let warned: Vec<&str> = json["vr_warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["vr"].as_str().unwrap())
        .collect();
    assert!(warned.contains(&"DA"), "no DA warning: {warned:?}");
    // Only the anon folder was added beside the raw one; nothing else in the work folder.
    assert_eq!(
        listing(&w.join("anon")),
        vec![
            "sub-01_scans/sub-01_0001.dcm",
            "sub-01_scans/sub-01_0002.dcm"
        ]
    );
    let top: Vec<String> = std::fs::read_dir(w.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let mut top = top;
    top.sort();
    assert_eq!(top, vec!["anon", "raw"]);
    // The values: the profile's, and nothing of the made-up identity left in the files.
    let out = std::fs::read(w.join("anon/sub-01_scans/sub-01_0001.dcm")).unwrap();
    let contains = |needle: &[u8]| out.windows(needle.len()).any(|x| x == needle);
    assert!(!contains(b"Testperson") && !contains(b"P101"));
    assert!(contains(b"Anonymous ") && contains(b"20240131"));
}

#[test]
fn human_summary_names_counts_creators_and_the_vr_warning() {
    let w = Workdir::new();
    let Some(_) = participant(&w) else { return };
    let run = anonymize_cmd(&w, "P101", &[]);
    run.expect_code(0);
    let out = run.stdout();
    assert!(out.contains("anonymized 2 of 2 DICOM files"), "{out}");
    assert!(out.contains("not copied (2 not DICOM)"), "{out}");
    assert!(
        out.contains("private (0029,1009) in block `SIEMENS CSA HEADER`"),
        "{out}"
    );
    let err = run.stderr();
    assert_eq!(
        err.matches("note: the `lab` profile writes `Anonymous` into")
            .count(),
        1,
        "{err}"
    );
}

#[test]
fn an_id_mismatch_writes_nothing_and_prints_no_values() {
    let w = Workdir::new();
    let Some(_) = participant(&w) else { return };
    let run = anonymize_cmd(&w, "P102", &[]);
    run.expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains("ID check failed in 2 of 2 files: check the folder and Original ID"),
        "{out}"
    );
    assert!(
        out.contains("PatientID differs in 2") && out.contains("PatientName differs in 2"),
        "{out}"
    );
    assert!(
        // (`P101_scans` is a raw folder name, listed with the files not copied)
        !out.replace("P101_scans", "").contains("P101") && !out.contains("Testperson"),
        "a value was printed"
    );
    assert!(!run.stderr().contains("Testperson"));
    assert!(!w.join("anon").exists(), "something was written");
}

#[test]
fn a_patient_name_alone_can_match() {
    let w = Workdir::new();
    let Some(raw) = participant(&w) else { return };
    // The made-up name's first component, `^`-components trimmed, is not the ID; a name equal
    // to the ID is: rewrite one file's name to `P101^ ` and its ID to something else.
    let profile = Profile::from_toml(
        "t",
        "name='t'\n[[rule]]\ntag='0010,0010'\nkeyword='PatientName'\naction='replace'\nvalue=' P101 ^ '\n[[rule]]\ntag='0010,0020'\nkeyword='PatientID'\naction='replace'\nvalue='X9'\n",
    )
    .unwrap();
    let f = raw.join("P101_scans/P101_0002.dcm");
    let tmp = w.join("x.dcm");
    Anonymizer::new(&profile).anonymize_file(&f, &tmp).unwrap();
    std::fs::rename(&tmp, &f).unwrap();
    anonymize_cmd(&w, "P101", &[]).expect_code(0);
}

#[test]
fn a_truncated_file_is_a_finding_and_the_others_are_written() {
    let w = Workdir::new();
    let Some(raw) = participant(&w) else { return };
    let f = raw.join("P101_scans/P101_0002.dcm");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() - 1000]).unwrap();
    let run = anonymize_cmd(&w, "P101", &["--json"]);
    run.expect_code(1);
    let json = &run.json_lines()[0];
    assert_eq!(json["written"].as_array().unwrap().len(), 1);
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["file"], "P101_scans/P101_0002.dcm");
    assert!(
        findings[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("truncated")
    );
    assert_eq!(
        listing(&w.join("anon")),
        vec!["sub-01_scans/sub-01_0001.dcm"]
    );
}

#[test]
fn a_rerun_redoes_the_participant_and_removes_stale_temp_files() {
    let w = Workdir::new();
    let Some(_) = participant(&w) else { return };
    anonymize_cmd(&w, "P101", &["--jobs", "1"]).expect_code(0);
    let first = tree_hash(&w.join("anon"));
    let stale = w.join("anon/sub-01_scans/.anontrack-tmp-crashed");
    std::fs::write(&stale, b"half a file").unwrap();
    std::fs::write(w.join("anon/sub-01_scans/sub-01_0001.dcm"), b"damaged").unwrap();
    anonymize_cmd(&w, "P101", &[]).expect_code(0);
    assert!(!stale.exists(), "stale temp file left");
    assert_eq!(tree_hash(&w.join("anon")), first);
}

#[test]
fn a_missing_raw_folder_is_an_error() {
    let w = Workdir::new();
    let run = w.run([
        "anonymize",
        "nope",
        "anon",
        "--original-id",
        "1",
        "--study-id",
        "s",
    ]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("cannot find folder `nope`"),
        "{}",
        run.stderr()
    );
    assert!(!w.join("anon").exists());
}

#[test]
fn an_anon_folder_inside_the_raw_folder_is_refused() {
    let w = Workdir::new();
    std::fs::create_dir_all(w.join("raw")).unwrap();
    let before = tree_hash(&w.join("raw"));
    let run = w.run([
        "anonymize",
        "raw",
        "raw/anon",
        "--original-id",
        "1",
        "--study-id",
        "s",
    ]);
    run.expect_code(2);
    assert!(run.stderr().contains("overlap"), "{}", run.stderr());
    assert_eq!(tree_hash(&w.join("raw")), before);
}

#[test]
fn a_bad_date_is_a_usage_error() {
    let w = Workdir::new();
    let run = w.run([
        "anonymize",
        "raw",
        "anon",
        "--original-id",
        "1",
        "--study-id",
        "s",
        "--date",
        "2024-01-31",
    ]);
    run.expect_code(2);
    assert!(run.stderr().contains("YYYYMMDD"), "{}", run.stderr());
}

#[test]
fn dcm2niix_sees_the_same_voxels_after_anonymization() {
    if !require("dcm2niix", tool_present("dcm2niix", &["-h"])) {
        return;
    }
    let w = Workdir::new();
    let Some(raw) = participant(&w) else { return };
    anonymize_cmd(&w, "P101", &[]).expect_code(0);
    let convert = |dir: &Path, name: &str| -> Vec<u8> {
        let out = w.join(format!("nii-{name}"));
        std::fs::create_dir_all(&out).unwrap();
        let o = Command::new("dcm2niix")
            .args(["-b", "n", "-z", "n", "-f", "series", "-o"])
            .arg(&out)
            .arg(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "dcm2niix failed on {name}");
        let nii: Vec<PathBuf> = files_under(&out)
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "nii"))
            .collect();
        assert_eq!(nii.len(), 1, "{name}: expected one NIfTI, got {nii:?}");
        let bytes = std::fs::read(&nii[0]).unwrap();
        // NIfTI-1: vox_offset is a float32 at byte 108; voxels follow it.
        let off = f32::from_le_bytes(bytes[108..112].try_into().unwrap()) as usize;
        bytes[off..].to_vec()
    };
    let a = convert(&raw.join("P101_scans"), "raw");
    let b = convert(&w.join("anon/sub-01_scans"), "anon");
    assert!(a.len() > 100_000, "too few voxels: {}", a.len());
    assert!(a == b, "voxels differ after anonymization");
}

/// Tags the property test draws rules from: the lab's, plus common top-level elements of many
/// VRs (some of them sequences in some files).
const CANDIDATE_TAGS: &[(u16, u16)] = &[
    (0x0008, 0x0012),
    (0x0008, 0x0020),
    (0x0008, 0x0022),
    (0x0008, 0x0050),
    (0x0008, 0x0080),
    (0x0008, 0x0090),
    (0x0008, 0x1030),
    (0x0008, 0x1032),
    (0x0008, 0x1050),
    (0x0008, 0x1111),
    (0x0008, 0x1140),
    (0x0010, 0x0010),
    (0x0010, 0x0020),
    (0x0010, 0x0030),
    (0x0010, 0x0040),
    (0x0010, 0x1020),
    (0x0010, 0x1030),
    (0x0010, 0x4000),
    (0x0018, 0x0050),
    (0x0018, 0x1030),
    (0x0020, 0x0010),
    (0x0029, 0x1009),
    (0x0029, 0x1010),
    (0x0029, 0x1019),
    (0x0029, 0x1109),
    (0x0040, 0x0244),
    (0x0040, 0x0253),
    (0x0040, 0x0275),
];

#[test]
fn random_profiles_change_exactly_their_elements() {
    use anontrack::anonymize::profile::{Action, Rule};
    use anontrack::finding::TagRef;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestCaseError, TestRunner};

    let Some((t, raw)) = shared_copy() else {
        return;
    };
    // Files the lab profile can write (so broken and non-DICOM files are left out), big endian
    // and implicit VR included.
    let (written, _) = anonymize_each(&raw, &t.path().join("lab"));
    let files: Vec<PathBuf> = written
        .into_iter()
        .filter(|(_, o)| !o.reencoded)
        .map(|(r, _)| raw.join(r))
        .collect();
    let inputs: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let out = t.path().join("prop.dcm");
    let action = prop_oneof![
        "[A-Za-z0-9 ^.-]{0,70}".prop_map(Action::Replace),
        Just(Action::RunDate),
        Just(Action::Empty),
        Just(Action::Remove),
    ];
    let rules = proptest::collection::btree_map(0..CANDIDATE_TAGS.len(), action, 1..12);
    let mut runner = TestRunner::new(Config {
        cases: 96,
        ..Config::default()
    });
    runner
        .run(&(0..files.len(), rules), |(fi, rules)| {
            let profile = Profile {
                name: "random".into(),
                description: String::new(),
                rules: rules
                    .into_iter()
                    .map(|(i, action)| Rule {
                        tag: TagRef(CANDIDATE_TAGS[i].0, CANDIDATE_TAGS[i].1),
                        keyword: "X".into(),
                        action,
                    })
                    .collect(),
                standard: None,
                key: None,
            };
            let input = &inputs[fi];
            let result = Anonymizer::new(&profile)
                .date(date())
                .anonymize_file(&files[fi], &out);
            let rel = files[fi].strip_prefix(&raw).unwrap().display().to_string();
            match result {
                Ok(_) => {
                    let output = std::fs::read(&out).unwrap();
                    if let Some(why) =
                        unexplained_difference(input, &output, &expectations(&profile))
                    {
                        return Err(TestCaseError::fail(format!("{rel}: {why}")));
                    }
                }
                // Text into an element whose VR is binary (a damaged real file) is refused.
                Err(FileError::Patch(anontrack::anonymize::patch::PatchError::BinaryVr(
                    tag,
                    _,
                ))) if profile.rules.iter().any(|r| {
                    r.tag == tag && matches!(r.action, Action::Replace(_) | Action::RunDate)
                }) => {}
                // A non-empty text into a sequence is refused, and only that.
                Err(FileError::Patch(_)) => {
                    let (_, _, els) = spans(input).unwrap();
                    let explained = els.iter().any(|e| {
                        holds_sequence(e)
                            && profile.rules.iter().any(|r| {
                                (u32::from(r.tag.0) << 16 | u32::from(r.tag.1)) == e.tag
                                    && matches!(&r.action, Action::Replace(v) if !v.is_empty())
                                    || matches!(r.action, Action::RunDate)
                                        && (u32::from(r.tag.0) << 16 | u32::from(r.tag.1)) == e.tag
                            })
                    });
                    if !explained {
                        return Err(TestCaseError::fail(format!(
                            "{rel}: refused without a sequence"
                        )));
                    }
                }
                Err(e) => return Err(TestCaseError::fail(format!("{rel}: {e}"))),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_deflated_file_is_reencoded_with_only_the_profile_values_changed() {
    let Some((t, raw)) = shared_copy() else {
        return;
    };
    if !require("python3 with pydicom", pydicom_present()) {
        return;
    }
    let src = raw.join("pydicom/image_dfl.dcm");
    let dst = t.path().join("dfl.dcm");
    let profile = Profile::lab();
    let o = Anonymizer::new(&profile)
        .date(date())
        .anonymize_file(&src, &dst)
        .unwrap();
    assert!(o.reencoded);
    assert!(!o.changed.is_empty());
    // pydicom compares every element below the top level too; prints tags only.
    let script = r#"
import sys, pydicom
a = pydicom.dcmread(sys.argv[1]); b = pydicom.dcmread(sys.argv[2])
profile = {int(t, 16) for t in sys.argv[3].split(',')}
for e in a:
    t = int(e.tag)
    if t in profile:
        v = b[e.tag].value
        if t == 0x00080022:
            ok = str(v) == '20240131'
        else:
            ok = str(v) == 'Anonymous'
        print('%08X' % t, 'set' if ok else 'NOT SET')
    elif e.tag not in b or b[e.tag] != e:
        print('%08X' % t, 'CHANGED')
for e in b:
    if e.tag not in a:
        print('%08X' % int(e.tag), 'ADDED')
"#;
    let tags: Vec<String> = profile
        .rules
        .iter()
        .map(|r| format!("{:04X}{:04X}", r.tag.0, r.tag.1))
        .collect();
    let out = Command::new("python3")
        .args(["-W", "ignore", "-c", script])
        .arg(&src)
        .arg(&dst)
        .arg(tags.join(","))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(" set"),
        "no profile element compared:\n{text}"
    );
    assert!(
        !text.contains("NOT SET") && !text.contains("CHANGED") && !text.contains("ADDED"),
        "{text}"
    );
}

/// An error whose message already ends with its cause prints it once, not again as "caused by".
#[test]
fn an_anon_folder_that_is_a_file_is_one_error_line() {
    let w = Workdir::new();
    let Some(_) = participant(&w) else { return };
    std::fs::write(w.join("anon"), b"").unwrap();
    let run = anonymize_cmd(&w, "P101", &[]);
    run.expect_code(2);
    let err = run.stderr();
    assert!(err.starts_with("error: cannot write `"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
