//! Every example in `examples/` run by the real binary: the example study (`status`,
//! `sync --dry-run`, then a real `sync` on a copy), its annotated anontrack.toml (including the
//! commented `[notify]` block), and the example profile files. Also the first-hour items that
//! live in these files (`demo --help` without `--json`).

use crate::harness::{Workdir, copy_tree, files_under, tree_hash};
use std::path::{Path, PathBuf};

const WORKBOOK: &str = "EXAMPLE_dataprocessing.xlsx";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// A copy of `examples/study` in `w` (as `study/`) with its synthetic raw scans made.
pub fn example_study(w: &Workdir) -> PathBuf {
    let dir = w.join("study");
    copy_tree(&examples().join("study"), &dir);
    w.run([
        "gen-study",
        "study",
        "--participants",
        "3",
        "--series",
        "1",
        "--slices",
        "2",
        "--matrix",
        "8",
    ])
    .expect_code(0);
    for id in ["70001", "70002", "70003"] {
        assert!(
            dir.join("sourcedata").join(id).is_dir(),
            "no raw folder {id}"
        );
    }
    dir
}

#[test]
fn example_study_status_dry_run_and_sync() {
    let w = Workdir::new();
    let dir = example_study(&w);
    let workbook = format!("study/{WORKBOOK}");

    let run = w.run(["status", &workbook]);
    run.expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("101  70001     pending (KH)") && out.contains("102  70002     not started"),
        "{out}"
    );

    let before = tree_hash(&dir);
    let run = w.run(["sync", "--dry-run", &workbook]);
    run.expect_code(0);
    assert!(
        run.stdout()
            .contains("plan: 2 to anonymize, 0 to verify, 1 skipped"),
        "{}",
        run.stdout()
    );
    assert_eq!(
        tree_hash(&dir),
        before,
        "a dry run changed the study folder"
    );

    // The example is a working study, not only a picture of one.
    let run = w.run(["sync", &workbook]);
    run.expect_code(0);
    assert!(
        run.stdout().contains("2 passed, 0 with a problem"),
        "{}",
        run.stdout()
    );
    let lines = w.run(["--json", "status", &workbook]).json_lines();
    let state = |id: &str| {
        let line = lines.iter().find(|l| l["id"] == id).unwrap();
        line["anonymization"]["state"].as_str().unwrap().to_string()
    };
    assert_eq!(
        [state("101"), state("102"), state("103")],
        ["done", "not_started", "done"]
    );
    assert_eq!(files_under(&dir.join("AnonDcm/101")).len(), 2);
}

#[test]
fn example_config_is_the_one_status_reads_and_its_notify_block_parses() {
    let text = std::fs::read_to_string(examples().join("study/anontrack.toml")).unwrap();
    // Every key is spelled out (so the annotations document all of them) and valid.
    let config = anontrack::config::Config::parse(&text).unwrap();
    assert_eq!(config, anontrack::config::Config::default());

    // The commented `[notify]` block, uncommented, is a valid notify table.
    let block: String = text
        .lines()
        .skip_while(|l| *l != "# [notify]")
        .skip(1)
        .map(|l| l.strip_prefix("# ").unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let notify: anontrack::notify::NotifyConfig = toml::from_str(&block).unwrap();
    assert_eq!(
        notify.webhook,
        anontrack::notify::WebhookSource::Env("ANONTRACK_SLACK_WEBHOOK".into())
    );
    assert_eq!(notify.on, anontrack::notify::NotifyOn::Problems);
}

#[test]
fn lab_plus_institution_profile_anonymizes_the_extra_tag() {
    let w = Workdir::new();
    example_study(&w);
    let profile = examples().join("profiles/lab-plus-institution.toml");
    let run = w.run([
        "anonymize",
        "--profile",
        profile.to_str().unwrap(),
        "--original-id",
        "70001",
        "--study-id",
        "101",
        "--date",
        "20240131",
        "study/sourcedata/70001",
        "out",
    ]);
    run.expect_code(0);
    let files = files_under(&w.join("out"));
    assert_eq!(files.len(), 2, "{files:?}");
    for file in files {
        let obj = dicom_object::open_file(&file).unwrap();
        let text = |tag| {
            obj.element(tag)
                .unwrap()
                .to_str()
                .unwrap()
                .trim()
                .to_string()
        };
        use dicom_dictionary_std::tags;
        assert_eq!(text(tags::INSTITUTION_NAME), "Anonymous", "{file:?}");
        assert_eq!(text(tags::PATIENT_NAME), "Anonymous", "{file:?}");
        assert_eq!(text(tags::ACQUISITION_DATE), "20240131", "{file:?}");
    }
    // The file is the built-in lab profile plus exactly one rule.
    let lab = anontrack::anonymize::Profile::lab();
    let text = std::fs::read_to_string(&profile).unwrap();
    let extended = anontrack::anonymize::Profile::from_toml("example", &text).unwrap();
    assert_eq!(extended.rules[..lab.rules.len()], lab.rules[..]);
    assert_eq!(extended.rules.len(), lab.rules.len() + 1);
}

#[test]
fn basic_keep_description_profile_loads() {
    let w = Workdir::new();
    example_study(&w);
    let profile = examples().join("profiles/basic-keep-description.toml");
    w.run(["profile", "check", profile.to_str().unwrap()])
        .expect_code(0);
    let run = w.run([
        "anonymize",
        "--profile",
        profile.to_str().unwrap(),
        "--original-id",
        "70001",
        "--study-id",
        "101",
        "study/sourcedata/70001",
        "out",
    ]);
    run.expect_code(0);
    for file in files_under(&w.join("out")) {
        let obj = dicom_object::open_file(&file).unwrap();
        let description = obj
            .element(dicom_dictionary_std::tags::STUDY_DESCRIPTION)
            .unwrap()
            .to_str()
            .unwrap()
            .trim()
            .to_string();
        assert_eq!(description, "Research^Synthetic study", "{file:?}");
    }
}

#[test]
fn every_example_file_is_exercised() {
    // A new example must get a test here: list what this module covers.
    let covered = [
        "README.md",
        "profiles/basic-keep-description.toml",
        "profiles/lab-plus-institution.toml",
        "slurm/README.md",
        "slurm/submit.sh",
        "study/.gitignore",
        "study/EXAMPLE_dataprocessing.xlsx",
        "study/anontrack.toml",
    ];
    let root = examples();
    let mut found: Vec<String> = files_under(&root)
        .iter()
        .map(|p| {
            p.strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    found.sort();
    assert_eq!(found, covered);
}

#[test]
fn demo_help_does_not_offer_json() {
    let w = Workdir::new();
    let run = w.run(["demo", "--help"]);
    run.expect_code(0);
    assert!(!run.stdout().contains("--json"), "{}", run.stdout());
    assert!(
        w.run(["status", "--help"]).stdout().contains("--json"),
        "other commands still list it"
    );
    // Given anyway, it is refused with the hint, before anything is made.
    let run = w.run(["demo", "--json", "d"]);
    run.expect_code(2);
    assert!(run.stderr().contains("status --json"), "{}", run.stderr());
    assert!(!w.join("d").exists());
}

#[test]
fn the_slurm_example_is_a_valid_script_that_submits_an_array_then_a_dependent_collect() {
    let script = examples().join("slurm/submit.sh");
    let text = std::fs::read_to_string(&script).unwrap();
    let out = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("--array=0-2%"), "{text}");
    assert!(text.contains("--dependency=afterany:"), "{text}");
    assert!(text.contains(" work "), "{text}");
    assert!(text.contains("--collect"), "{text}");
    let readme = std::fs::read_to_string(examples().join("slurm/README.md")).unwrap();
    assert!(readme.contains("slurm-script"), "{readme}");
}
