//! Hostile DICOM files (issue 11), each run through the real binary: every one must end as a
//! finding for that file, with no abort (a stack overflow shows as exit 134), no panic, peak
//! memory under 200 MB, and the participant's other files (and the workbook's other rows) going
//! on. The inputs are built in code; `../shared/dicom/hostile` adds the original reproductions.
//!
//! Never print DICOM values here.

use crate::harness::{self, Run, Workdir};
use crate::sync::Study;
use anontrack::synth::{ParticipantSpec, write_participant};
use flate2::Compression;
use flate2::write::DeflateEncoder;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Peak memory allowed to any run on a hostile file.
const MAX_RSS_KB: u64 = 200 * 1024;

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// An explicit VR little endian element (2- or 4-byte length by VR); odd values padded.
pub fn element(tag: (u16, u16), vr: &[u8; 2], value: &[u8]) -> Vec<u8> {
    let mut value = value.to_vec();
    if value.len() % 2 == 1 {
        value.push(if vr == b"UI" { 0 } else { b' ' });
    }
    let mut v = header(tag, vr, value.len() as u32);
    v.extend_from_slice(&value);
    v
}

/// Just the header of an explicit VR little endian element declaring `len` bytes.
pub fn header(tag: (u16, u16), vr: &[u8; 2], len: u32) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&tag.0.to_le_bytes());
    v.extend_from_slice(&tag.1.to_le_bytes());
    v.extend_from_slice(vr);
    if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT" | b"UC" | b"UR") {
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&len.to_le_bytes());
    } else {
        v.extend_from_slice(&(len as u16).to_le_bytes());
    }
    v
}

/// Preamble, `DICM` and a complete file meta group for MR Image Storage in `ts`.
pub fn preamble_and_meta(ts: &str) -> Vec<u8> {
    let mut meta = element((0x0002, 0x0001), b"OB", &[0, 1]);
    meta.extend(element(
        (0x0002, 0x0002),
        b"UI",
        b"1.2.840.10008.5.1.4.1.1.4",
    ));
    meta.extend(element((0x0002, 0x0003), b"UI", b"2.25.1234"));
    meta.extend(element((0x0002, 0x0010), b"UI", ts.as_bytes()));
    meta.extend(element((0x0002, 0x0012), b"UI", b"2.25.5678"));
    let mut v = vec![0u8; 128];
    v.extend_from_slice(b"DICM");
    v.extend(element(
        (0x0002, 0x0000),
        b"UL",
        &(meta.len() as u32).to_le_bytes(),
    ));
    v.extend(meta);
    v
}

/// The identifying start of a data set: SOP class and instance, a date, name and `id`.
pub fn dataset_head(id: &str) -> Vec<u8> {
    let mut v = element((0x0008, 0x0016), b"UI", b"1.2.840.10008.5.1.4.1.1.4");
    v.extend(element((0x0008, 0x0018), b"UI", b"2.25.1234"));
    v.extend(element((0x0008, 0x0020), b"DA", b"20200101"));
    v.extend(element((0x0010, 0x0010), b"PN", b"Testperson^Hostile"));
    v.extend(element((0x0010, 0x0020), b"LO", id.as_bytes()));
    v
}

/// A deflated Part 10 file whose data set is `dataset`.
pub fn deflated(dataset: &[u8]) -> Vec<u8> {
    let mut v = preamble_and_meta(DEFLATED);
    let mut z = DeflateEncoder::new(Vec::new(), Compression::best());
    z.write_all(dataset).unwrap();
    v.extend(z.finish().unwrap());
    if v.len() % 2 == 1 {
        v.push(0);
    }
    v
}

/// `n` nested undefined-length sequences, each in the one item of the one above (never closed).
pub fn nested_sequences(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n * 20);
    for _ in 0..n {
        v.extend(header((0x0029, 0x1090), b"SQ", u32::MAX));
        v.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
    }
    v
}

/// A deflated file holding 5,000 nested sequences (about 800 bytes on disk).
pub fn deflated_nested(id: &str) -> Vec<u8> {
    let mut ds = dataset_head(id);
    ds.extend(nested_sequences(5000));
    deflated(&ds)
}

/// A deflated file whose pixel data declares 3.7 GB and holds 64 bytes (a few hundred bytes).
pub fn deflated_declaring_3_7_gb(id: &str) -> Vec<u8> {
    let mut ds = dataset_head(id);
    ds.extend(header((0x7FE0, 0x0010), b"OW", 3_722_304_988));
    ds.extend_from_slice(&[0; 64]);
    deflated(&ds)
}

/// An explicit VR file whose private OB element declares 3.7 GB and holds 64 bytes.
pub fn explicit_declaring_3_7_gb(id: &str) -> Vec<u8> {
    let mut v = preamble_and_meta(EXPLICIT_LE);
    v.extend(dataset_head(id));
    v.extend(element((0x0029, 0x0010), b"LO", b"HOSTILE CREATOR"));
    v.extend(header((0x0029, 0x1010), b"OB", 3_722_304_988));
    v.extend_from_slice(&[0; 64]);
    v
}

/// An explicit VR file whose PatientName (a profile tag) carries the binary VR `vr`.
pub fn profile_tag_with_binary_vr(id: &str, vr: &[u8; 2]) -> Vec<u8> {
    let mut v = preamble_and_meta(EXPLICIT_LE);
    v.extend(element(
        (0x0008, 0x0016),
        b"UI",
        b"1.2.840.10008.5.1.4.1.1.4",
    ));
    v.extend(element((0x0008, 0x0018), b"UI", b"2.25.1234"));
    v.extend(element((0x0010, 0x0010), vr, &[1, 2, 3, 4, 5, 6, 7, 8]));
    v.extend(element((0x0010, 0x0020), b"LO", id.as_bytes()));
    v
}

/// A run of the binary with its peak resident memory (polled from /proc; a big allocation is
/// zero-filled over many milliseconds, so a 5 ms poll does not miss one).
pub struct Measured {
    pub run: Run,
    pub peak_kb: u64,
}

impl Measured {
    /// No abort, no panic, no signal, peak memory under [`MAX_RSS_KB`], and exit `code`.
    #[track_caller]
    pub fn expect_clean(&self, code: i32) -> &Self {
        let r = &self.run;
        assert_ne!(r.code(), 134, "aborted\n{}", r.stderr());
        assert!(!r.stderr().contains("panicked"), "panicked\n{}", r.stderr());
        assert!(
            !r.stderr().contains("overflowed its stack"),
            "stack overflow\n{}",
            r.stderr()
        );
        r.expect_code(code);
        assert!(
            self.peak_kb < MAX_RSS_KB,
            "peak memory {} MB (limit {} MB)",
            self.peak_kb / 1024,
            MAX_RSS_KB / 1024
        );
        self
    }
}

/// Runs `anontrack ARGS` in `dir`, measuring its peak memory.
pub fn run_measured<I, S>(dir: &Path, args: I) -> Measured
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = tempfile::tempdir().unwrap();
    let (o, e) = (out.path().join("out"), out.path().join("err"));
    let mut child = Command::new(harness::bin())
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap())
        .spawn()
        .expect("run anontrack");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0;
    let status = loop {
        if let Some(s) = std::fs::read_to_string(&status_path)
            .ok()
            .and_then(|s| vm_hwm_kb(&s))
        {
            peak_kb = peak_kb.max(s);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // A run that eats memory is stopped before it takes the machine down with it.
        if peak_kb > 4 * MAX_RSS_KB {
            child.kill().ok();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let output = std::process::Output {
        status,
        stdout: std::fs::read(&o).unwrap(),
        stderr: std::fs::read(&e).unwrap(),
    };
    Measured {
        run: Run { out: output },
        peak_kb,
    }
}

/// `VmHWM` (peak resident set) in kB from a `/proc/<pid>/status` text.
pub fn vm_hwm_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A participant folder `raw/<id>` of 8 synthetic files plus `name` holding `bytes`.
/// `command raw/<id> anon/S1 --original-id <id> --study-id S1`, then `extra`: the one
/// participant these tests work on.
fn args<'a>(command: &'a str, id: &'a str, extra: &[&'a str]) -> Vec<String> {
    let raw = format!("raw/{id}");
    [
        command,
        &raw,
        "anon/S1",
        "--original-id",
        id,
        "--study-id",
        "S1",
    ]
    .iter()
    .chain(extra)
    .map(|a| a.to_string())
    .collect()
}

fn participant_with(w: &Workdir, id: &str, name: &str, bytes: &[u8]) {
    let dir = w.join("raw").join(id);
    write_participant(&dir, &ParticipantSpec::new(id, 7)).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// `anonymize` over a participant holding one hostile file: a finding naming that file, the
/// other 8 files written, no abort, bounded memory.
fn anonymize_refuses(name: &str, bytes: &[u8]) -> Measured {
    let w = Workdir::new();
    participant_with(&w, "7001", name, bytes);
    let m = run_measured(w.path(), args("anonymize", "7001", &[]));
    m.expect_clean(1);
    let out = m.run.stdout() + &m.run.stderr();
    assert!(out.contains(name), "no finding names {name}:\n{out}");
    let written = harness::listing(&w.join("anon/S1"));
    assert_eq!(written.len(), 8, "{written:?}");
    assert!(!written.iter().any(|f| f.ends_with(name)), "{written:?}");
    m
}

/// `verify` with the hostile file in both the raw and the anonymized folder (as if copied by
/// hand): a finding naming that file, no abort, bounded memory.
fn verify_refuses(name: &str, bytes: &[u8]) -> Measured {
    let w = Workdir::new();
    for dir in ["raw/7001", "anon/S1"] {
        std::fs::create_dir_all(w.join(dir)).unwrap();
        std::fs::write(w.join(dir).join(name), bytes).unwrap();
    }
    let m = run_measured(w.path(), args("verify", "7001", &[]));
    m.expect_clean(1);
    let out = m.run.stdout() + &m.run.stderr();
    assert!(out.contains(name), "no finding names {name}:\n{out}");
    m
}

#[test]
fn the_built_inputs_are_what_they_claim() {
    // Guards against a fixture that no longer reproduces anything.
    assert!(deflated_nested("7001").len() < 1200);
    assert!(deflated_declaring_3_7_gb("7001").len() < 500);
    let inflated = nested_sequences(5000);
    assert_eq!(inflated.len(), 5000 * 20);
}

#[test]
fn anonymize_refuses_a_deflated_file_of_5000_nested_sequences() {
    anonymize_refuses("nested.dcm", &deflated_nested("7001"));
}

#[test]
fn anonymize_refuses_a_deflated_file_declaring_3_7_gb() {
    anonymize_refuses("declares.dcm", &deflated_declaring_3_7_gb("7001"));
}

#[test]
fn anonymize_refuses_an_explicit_vr_file_declaring_3_7_gb() {
    anonymize_refuses("huge.dcm", &explicit_declaring_3_7_gb("7001"));
}

#[test]
fn anonymize_refuses_a_decompression_bomb() {
    // 64 MB of zeros deflate to about 64 kB: over the ratio limit, refused while inflating.
    let mut ds = dataset_head("7001");
    ds.extend(header((0x7FE0, 0x0010), b"OW", 64 << 20));
    ds.resize(ds.len() + (64 << 20), 0);
    let m = anonymize_refuses("bomb.dcm", &deflated(&ds));
    assert!(
        m.run.stdout().contains("decompression bomb"),
        "{}",
        m.run.stdout()
    );
}

/// The profile's text is never written into a binary VR: the file is a finding, and nothing
/// pydicom cannot read is left in the output.
fn binary_vr_is_refused(vr: &[u8; 2]) {
    let name = format!("vr-{}.dcm", String::from_utf8_lossy(vr));
    let m = anonymize_refuses(&name, &profile_tag_with_binary_vr("7001", vr));
    let out = m.run.stdout();
    assert!(
        out.contains("(0010,0010)"),
        "the finding names no tag:\n{out}"
    );
}

#[test]
fn anonymize_refuses_text_in_a_profile_tag_whose_vr_is_fd() {
    binary_vr_is_refused(b"FD");
}

#[test]
fn anonymize_refuses_text_in_a_profile_tag_whose_vr_is_sl() {
    binary_vr_is_refused(b"SL");
}

#[test]
fn anonymize_refuses_text_in_a_profile_tag_whose_vr_is_ul() {
    binary_vr_is_refused(b"UL");
}

/// Emptying an element is not writing text: a rule `empty` on an element with a binary VR gives
/// it a zero-length value (valid for every VR) instead of refusing the file.
#[test]
fn an_empty_rule_empties_a_binary_vr_element() {
    let w = Workdir::new();
    participant_with(
        &w,
        "7001",
        "vr-OB.dcm",
        &profile_tag_with_binary_vr("7001", b"OB"),
    );
    std::fs::write(
        w.join("empty.toml"),
        "name = \"empty\"\ndescription = \"\"\n\n[[rule]]\ntag = \"0010,0010\"\nkeyword = \"PatientName\"\naction = \"empty\"\n",
    )
    .unwrap();
    let m = run_measured(
        w.path(),
        args("anonymize", "7001", &["--profile", "empty.toml"]),
    );
    let out = m.run.stdout() + &m.run.stderr();
    assert_eq!(m.run.code(), 0, "{out}");
    let written = harness::listing(&w.join("anon/S1"));
    let file = written
        .iter()
        .find(|f| f.ends_with("vr-OB.dcm"))
        .expect("written");
    let bytes = std::fs::read(w.join("anon/S1").join(file)).unwrap();
    // (0010,0010) OB, two reserved bytes, a 4-byte length of zero.
    let empty = [0x10, 0x00, 0x10, 0x00, b'O', b'B', 0, 0, 0, 0, 0, 0];
    assert!(
        bytes.windows(empty.len()).any(|x| x == empty),
        "(0010,0010) was not emptied"
    );
}

#[test]
fn verify_refuses_a_deflated_file_of_5000_nested_sequences() {
    verify_refuses("nested.dcm", &deflated_nested("7001"));
}

#[test]
fn verify_refuses_a_deflated_file_declaring_3_7_gb() {
    verify_refuses("declares.dcm", &deflated_declaring_3_7_gb("7001"));
}

#[test]
fn verify_refuses_an_explicit_vr_file_declaring_3_7_gb() {
    verify_refuses("huge.dcm", &explicit_declaring_3_7_gb("7001"));
}

/// The original reproductions in `../shared/dicom/hostile`, through `anonymize`.
#[test]
fn anonymize_refuses_the_shared_hostile_files() {
    let Some(dir) = harness::shared_path("dicom/hostile") else {
        return;
    };
    for name in [
        "deflated-nested-5000-seq.dcm",
        "deflated-declares-3.7GB.dcm",
        "libfuzzer-guard-bypass-oom-3.7GB.dcm",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        // Their PatientID is P77001: the participant is named after it.
        let w = Workdir::new();
        let raw = w.join("raw/P77001");
        std::fs::create_dir_all(&raw).unwrap();
        std::fs::write(raw.join(name), &bytes).unwrap();
        let m = run_measured(w.path(), args("anonymize", "P77001", &[]));
        m.expect_clean(1);
        assert!(m.run.stdout().contains(name), "{}", m.run.stdout());
    }
}

/// The original reproductions, through `verify` (raw and anonymized folder both hold the file).
#[test]
fn verify_refuses_the_shared_hostile_files() {
    let Some(dir) = harness::shared_path("dicom/hostile") else {
        return;
    };
    for name in [
        "deflated-nested-5000-seq.dcm",
        "deflated-declares-3.7GB.dcm",
        "libfuzzer-guard-bypass-oom-3.7GB.dcm",
    ] {
        verify_refuses(name, &std::fs::read(dir.join(name)).unwrap());
    }
}

/// A whole `sync`: the hostile file in the second participant is that row's note; the first
/// row still passes and the workbook is saved.
#[test]
fn sync_goes_on_past_a_hostile_file_and_saves_the_workbook() {
    let s = Study::simple(&[("S01", "7101", "KH", ""), ("S02", "7102", "KH", "")]);
    s.participant(&ParticipantSpec::new("7101", 1));
    let dir = s.participant(&ParticipantSpec::new("7102", 2));
    std::fs::write(dir.join("nested.dcm"), deflated_nested("7102")).unwrap();
    std::fs::write(dir.join("declares.dcm"), deflated_declaring_3_7_gb("7102")).unwrap();
    let book = s.w.join(&s.book);
    let m = run_measured(s.w.path(), ["sync", book.to_str().unwrap()]);
    m.expect_clean(1);
    let status = s.status();
    assert_eq!(status[0], "3 S01 7101 done(KH) not_started");
    assert!(
        status[1].starts_with("4 S02 7102 problem(KH: ") && status[1].contains("(+1 more)"),
        "{status:?}"
    );
    assert!(
        status[1].contains("nested.dcm") || status[1].contains("declares.dcm"),
        "{status:?}"
    );
    assert_eq!(s.anon_files("S01").len(), 8);
    assert!(s.anon_files("S02").is_empty());
}

/// Found by the `verify_file` fuzz target (neuro): a DA whose bytes are Latin-1 letters made the
/// verifier split the value inside a character and panic. Now the whole pair is written and
/// checked, and the run ends with a verdict.
#[test]
fn verify_survives_a_date_holding_latin_1_letters_under_neuro() {
    let w = Workdir::new();
    let mut ds = element((0x0008, 0x0005), b"CS", b"ISO_IR 100");
    ds.extend(element((0x0008, 0x0012), b"DA", b"200\xd2\xcf\xc9\xcd4"));
    ds.extend(dataset_head("7001"));
    let mut file = preamble_and_meta(EXPLICIT_LE);
    file.extend(ds);
    participant_with(&w, "7001", "latin.dcm", &file);
    let neuro = ["--profile", "neuro"];
    let a = run_measured(w.path(), args("anonymize", "7001", &neuro));
    a.expect_clean(0);
    let v = run_measured(w.path(), args("verify", "7001", &neuro));
    assert!(
        matches!(v.run.code(), 0 | 1),
        "verify ended with {}:\n{}",
        v.run.code(),
        v.run.stderr()
    );
    assert!(!v.run.stderr().contains("panicked"), "{}", v.run.stderr());
}

/// A valid deflated file whose compressed stream begins with the bytes `02 00` (an empty fixed
/// Huffman block, then a stored block holding the data set): read by group number alone, the
/// stream looks like more file meta. Found by the `deflate` fuzz target. The meta ends where
/// its group length says, so the file is written and verified like any other.
#[test]
fn a_deflated_stream_that_starts_like_file_meta_is_read_as_data() {
    let ds = dataset_head("7001");
    let mut stream = vec![0x02, 0x00]; // empty fixed block; then a stored block, not final
    stream.extend((ds.len() as u16).to_le_bytes());
    stream.extend((!(ds.len() as u16)).to_le_bytes());
    stream.extend(&ds);
    stream.extend([0x03, 0x00]); // final empty fixed block
    let mut inflated = Vec::new();
    flate2::read::DeflateDecoder::new(&stream[..])
        .read_to_end(&mut inflated)
        .unwrap();
    assert_eq!(inflated, ds, "the built stream is valid deflate");

    let mut file = preamble_and_meta(DEFLATED);
    file.extend(&stream);
    let w = Workdir::new();
    participant_with(&w, "7001", "starts-like-meta.dcm", &file);
    let a = run_measured(w.path(), args("anonymize", "7001", &[]));
    a.expect_clean(0);
    assert!(w.join("anon/S1/starts-like-meta.dcm").is_file());
    let v = run_measured(w.path(), args("verify", "7001", &[]));
    v.expect_clean(0);
}
