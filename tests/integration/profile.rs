//! Tests of `anontrack profile show` and `profile check`: a built-in profile printed as a file
//! round-trips through `check` and loads as the same profile; broken files are refused with the
//! reason; the example profile files pass.

use crate::harness::Workdir;
use anontrack::anonymize::Profile;
use std::path::Path;

#[test]
fn show_lab_round_trips_through_a_file() {
    let w = Workdir::new();
    let run = w.run(["profile", "show", "lab"]);
    run.expect_code(0);
    let text = run.stdout();
    assert!(text.starts_with("# The lab's written procedure"), "{text}");
    std::fs::write(w.join("x.toml"), &text).unwrap();

    let run = w.run(["profile", "check", "x.toml"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout(),
        "`x.toml` is a valid profile: `lab`, 19 rules\n"
    );
    // The printed file is the built-in profile, rule for rule.
    assert_eq!(Profile::from_toml("x", &text).unwrap(), Profile::lab());

    // With --json: one object.
    let run = w.run(["--json", "profile", "check", "x.toml"]);
    run.expect_code(0);
    let lines = run.json_lines();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["name"], "lab");
    assert_eq!(lines[0]["rules"], 19);
}

#[test]
fn an_edited_copy_is_checked_like_sync_loads_it() {
    let w = Workdir::new();
    let text = w.run(["profile", "show", "lab"]).stdout();
    // A lab adds a rule without a value: refused, naming the tag and what is missing.
    let broken = format!(
        "{text}\n[[rule]]\ntag = \"0008,0080\"\nkeyword = \"InstitutionName\"\naction = \"replace\"\n"
    );
    std::fs::write(w.join("mine.toml"), broken).unwrap();
    let run = w.run(["profile", "check", "mine.toml"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("(0008,0080) `replace` needs a `value`"),
        "{}",
        run.stderr()
    );
    // The same file with the value is fine.
    let fixed = format!(
        "{text}\n[[rule]]\ntag = \"0008,0080\"\nkeyword = \"InstitutionName\"\naction = \"replace\"\nvalue = \"Anonymous\"\n"
    );
    std::fs::write(w.join("mine.toml"), fixed).unwrap();
    w.run(["profile", "check", "mine.toml"]).expect_code(0);
}

#[test]
fn unknown_names_and_missing_files_are_clear_errors() {
    let w = Workdir::new();
    let run = w.run(["profile", "show", "strict"]);
    run.expect_code(2);
    assert!(run.stderr().contains("known: lab"), "{}", run.stderr());
    assert_eq!(run.stdout(), "");

    let run = w.run(["profile", "check", "nope.toml"]);
    run.expect_code(2);
    assert!(
        run.stderr()
            .contains("cannot find the profile file `nope.toml`"),
        "{}",
        run.stderr()
    );
    // A file named like a built-in is read as the file, not taken for the built-in.
    std::fs::write(w.join("lab"), "name = \"x\"\n").unwrap();
    let run = w.run(["profile", "check", "lab"]);
    run.expect_code(2);
    assert!(run.stderr().contains("no rules"), "{}", run.stderr());
}

#[test]
fn the_example_lab_profile_passes_check() {
    let w = Workdir::new();
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/profiles/lab-plus-institution.toml");
    let run = w.run(["profile", "check", file.to_str().unwrap()]);
    run.expect_code(0);
    assert!(
        run.stdout().contains("`lab-plus-institution`, 20 rules"),
        "{}",
        run.stdout()
    );
}

#[test]
fn show_basic_and_neuro_round_trip_as_the_built_ins() {
    for name in ["basic", "neuro"] {
        let w = Workdir::new();
        let run = w.run(["profile", "show", name]);
        run.expect_code(0);
        let text = run.stdout();
        std::fs::write(w.join("x.toml"), &text).unwrap();
        w.run(["profile", "check", "x.toml"]).expect_code(0);
        assert_eq!(
            Profile::from_toml(name, &text).unwrap(),
            Profile::load(name, Path::new("")).unwrap(),
            "{name}"
        );
    }
}
