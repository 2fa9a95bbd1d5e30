//! Tests of `gen-study` (hidden): the synthetic study is readable by dicom-object, pydicom,
//! dcmdump and dcm2niix, deterministic from the seed, and never overwrites anything.

use crate::harness::{Workdir, files_under, require, tool_present, tree_hash};
use std::path::Path;
use std::process::Command;

/// Runs `gen-study` into `out` with a small shape and extra args.
fn gen_small(w: &Workdir, out: &str, extra: &[&str]) -> crate::harness::Run {
    let mut args = vec![
        "gen-study",
        out,
        "--participants",
        "2",
        "--series",
        "2",
        "--slices",
        "3",
        "--matrix",
        "32",
    ];
    args.extend_from_slice(extra);
    w.run(args)
}

/// Every `.dcm` file under `dir`, sorted.
fn dicom_files(dir: &Path) -> Vec<std::path::PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "dcm"))
        .collect()
}

#[test]
fn writes_the_layout_it_prints() {
    let w = Workdir::new();
    let run = gen_small(&w, "study", &["--json", "--seed", "5"]);
    run.expect_code(0);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 2, "{}", run.stdout());
    assert_eq!(lines[0]["original_id"], "70001");
    assert_eq!(lines[1]["original_id"], "70002");
    assert_eq!(lines[0]["files"], 6);
    for (line, id) in lines.iter().zip(["70001", "70002"]) {
        let files = dicom_files(&w.join(format!("study/sourcedata/{id}")));
        assert_eq!(files.len(), 6);
        let bytes: u64 = files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .sum();
        assert_eq!(line["bytes"].as_u64(), Some(bytes));
        for f in &files {
            let obj = dicom_object::open_file(f).unwrap();
            let id_elem = obj.element_by_name("PatientID").unwrap();
            assert_eq!(id_elem.to_str().unwrap().trim(), id);
        }
    }
    assert!(
        w.join("study/sourcedata/70001/T1_MPRAGE_0002/IM-0003.dcm")
            .is_file()
    );
}

#[test]
fn same_seed_same_bytes_other_seed_differs() {
    let w = Workdir::new();
    gen_small(&w, "a", &["--seed", "9"]).expect_code(0);
    gen_small(&w, "b", &["--seed", "9"]).expect_code(0);
    gen_small(&w, "c", &["--seed", "10"]).expect_code(0);
    let (a, b, c) = (
        tree_hash(&w.join("a")),
        tree_hash(&w.join("b")),
        tree_hash(&w.join("c")),
    );
    assert_eq!(a.len(), 12);
    assert_eq!(a, b);
    let same = a.iter().zip(&c).filter(|(x, y)| x.1 == y.1).count();
    assert_eq!(same, 0, "every file differs with another seed");
}

#[test]
fn never_overwrites_and_rejects_empty_shapes() {
    let w = Workdir::new();
    gen_small(&w, "s", &[]).expect_code(0);
    let before = tree_hash(&w.join("s"));
    let run = gen_small(&w, "s", &["--seed", "2"]);
    run.expect_code(2);
    assert!(run.stderr().contains("already exists"), "{}", run.stderr());
    assert_eq!(tree_hash(&w.join("s")), before);
    let run = w.run(["gen-study", "t", "--slices", "0"]);
    run.expect_code(2);
    assert!(!w.join("t").exists());
}

#[test]
fn pydicom_reads_every_file_including_faults() {
    if !require(
        "python3 with pydicom",
        tool_present("python3", &["-c", "import pydicom"]),
    ) {
        return;
    }
    let w = Workdir::new();
    gen_small(&w, "e", &["--fault", "all"]).expect_code(0);
    gen_small(&w, "i", &["--implicit-vr"]).expect_code(0);
    let script = r#"
import sys, pydicom
bad = 0
for path in sys.argv[1:]:
    try:
        d = pydicom.dcmread(path)
        assert len(d.PixelData) == d.Rows * d.Columns * 2, path
        assert d.private_block(0x0029, "SIEMENS CSA HEADER")[0x10].value[:4] == b"SV10"
        print(path, d.file_meta.TransferSyntaxUID, d.PatientID, d.get((0x0033, 0x1013)) is not None)
    except Exception as e:
        bad += 1
        print(path, "ERROR", type(e).__name__)
"#;
    let mut files = dicom_files(&w.join("e"));
    files.extend(dicom_files(&w.join("i")));
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 24);
    // Exactly one file is truncated (the first participant's last series, last slice).
    let errors: Vec<&&str> = lines.iter().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{stdout}");
    assert!(errors[0].contains("/e/sourcedata/70001/RESTING_STATE_0003/IM-0003.dcm"));
    // Participant 70002's six files, plus 70001's mismatched one, in the faulty study.
    let in_e = |l: &&&str| l.contains("/e/sourcedata/");
    assert_eq!(
        lines
            .iter()
            .filter(in_e)
            .filter(|l| l.contains(" 70002 "))
            .count(),
        6 + 1
    );
    assert_eq!(lines.iter().filter(|l| l.ends_with("True")).count(), 3);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.contains("1.2.840.10008.1.2 "))
            .count(),
        12
    );
}

#[test]
fn dcmdump_reads_every_file_without_complaint() {
    if !require("dcmdump", tool_present("dcmdump", &["--version"])) {
        return;
    }
    let w = Workdir::new();
    gen_small(&w, "e", &[]).expect_code(0);
    gen_small(&w, "i", &["--implicit-vr", "--seed", "3"]).expect_code(0);
    let mut files = dicom_files(&w.join("e"));
    files.extend(dicom_files(&w.join("i")));
    for f in &files {
        let out = Command::new("dcmdump").arg(f).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success() && stderr.is_empty(), "{f:?}: {stderr}");
        let dump = String::from_utf8_lossy(&out.stdout);
        assert!(
            dump.contains("(0029,0010) LO [SIEMENS CSA HEADER]"),
            "{dump}"
        );
        assert!(dump.contains("PatientName"));
    }
}

#[test]
fn dcm2niix_converts_a_series_to_a_volume() {
    if !require("dcm2niix", tool_present("dcm2niix", &["-h"])) {
        return;
    }
    let w = Workdir::new();
    let run = w.run([
        "gen-study",
        "s",
        "--series",
        "1",
        "--slices",
        "20",
        "--matrix",
        "48",
    ]);
    run.expect_code(0);
    let nii = w.join("nii");
    std::fs::create_dir(&nii).unwrap();
    let out = Command::new("dcm2niix")
        .args(["-z", "n", "-b", "n", "-f", "vol", "-o"])
        .arg(&nii)
        .arg(w.join("s/sourcedata/70001/T1_MPRAGE_0002"))
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{log}");
    let header = std::fs::read(nii.join("vol.nii")).unwrap();
    let dim: Vec<i16> = header[40..56]
        .chunks(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert_eq!(&dim[..4], &[3, 48, 48, 20], "{log}");
    let datatype = i16::from_le_bytes([header[70], header[71]]);
    // 12-bit values fit either 16-bit NIfTI type: INT16 (4) or UINT16 (512).
    assert!(datatype == 4 || datatype == 512, "datatype {datatype}");
}
