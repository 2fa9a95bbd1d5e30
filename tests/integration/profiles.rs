//! The standard profiles (`basic`, `neuro`) on the real files in ../shared/dicom: every output
//! is read by pydicom and dcmdump, dciodvfy finds no new kind of error, dcm2niix converts a
//! neuro output like the raw, the key makes outputs reproducible, (property test) every
//! element at every depth follows its resolved action for random option sets, checked with
//! dicom-object rather than the writer's walker, and `--write-mapping` maps what was replaced.

use crate::harness::{Workdir, require, shared_path, tool_present};
use anontrack::anonymize::{Anonymizer, Profile};
use anontrack::deid::keyed::{shift_date, shift_datetime};
use anontrack::deid::{Act, Base, DeidOption, StudyKey};
use anontrack::finding::TagRef;
use dicom_core::header::{HasLength, Header};
use dicom_object::OpenFileOptions;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Real files: implicit VR Siemens mosaic, MR/CT, Enhanced MR (little and big endian), Enhanced
/// CT, RT Dose (implicit and big endian), SR, Siemens with overlays, JPEG 2000, SEG, deflated.
const FILES: &[&str] = &[
    "nibabel/0.dcm",
    "pydicom/MR_small_implicit.dcm",
    "pydicom/CT_small.dcm",
    "pydicom-data/emri_small.dcm",
    "pydicom-data/emri_small_big_endian.dcm",
    "pydicom-data/eCT_Supplemental.dcm",
    "pydicom/rtdose.dcm",
    "pydicom/rtdose_expb.dcm",
    "dicomscope-deb/reportsi.dcm",
    "dicomscope-deb/reportki.dcm",
    "pydicom/reportsi.dcm",
    "pydicom/reportsi_with_empty_number_tags.dcm",
    "pydicom/test-SR.dcm",
    "pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm",
    "nibabel/slicethickness_empty_string.dcm",
    "pydicom-data/liver.dcm",
    "pydicom/image_dfl.dcm",
];

fn key(seed: u8) -> StudyKey {
    StudyKey::from_bytes([seed; 32])
}

/// Anonymizes each available file under `profile` into `out/<i>.dcm`; returns (raw, anon).
fn run_all(profile: &Profile, k: &StudyKey, out: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut done = Vec::new();
    for (i, f) in FILES.iter().enumerate() {
        let Some(src) = shared_path(&format!("dicom/{f}")) else {
            continue;
        };
        let dst = out.join(format!("{i}.dcm"));
        Anonymizer::new(profile)
            .key(k.clone())
            .original_id("P101")
            .study_id("sub-01")
            .anonymize_file(&src, &dst)
            .unwrap_or_else(|e| panic!("{f} under {}: {e}", profile.name));
        done.push((src, dst));
    }
    done
}

#[test]
fn basic_and_neuro_write_every_real_file_and_pydicom_and_dcmdump_read_them() {
    let w = Workdir::new();
    for base in [Base::Basic, Base::Neuro] {
        let profile = Profile::standard(base);
        let out = w.join(base.name());
        std::fs::create_dir_all(&out).unwrap();
        let pairs = run_all(&profile, &key(1), &out);
        if pairs.is_empty() {
            return; // ../shared absent: the harness already said so
        }
        if require("dcmdump", tool_present("dcmdump", &["--version"])) {
            for (_, anon) in &pairs {
                let o = Command::new("dcmdump")
                    .arg("-q")
                    .arg(anon)
                    .output()
                    .unwrap();
                assert!(o.status.success(), "dcmdump failed on {}", anon.display());
            }
        }
        if !require(
            "python3 with pydicom",
            tool_present("python3", &["-c", "import pydicom"]),
        ) {
            continue;
        }
        let script = r#"
import sys, pydicom
for raw, anon in zip(sys.argv[1::2], sys.argv[2::2]):
    r = pydicom.dcmread(raw, force=True)
    a = pydicom.dcmread(anon)
    a.walk(lambda ds, el: el.value)
    assert a.PatientID == "sub-01", (anon, "PatientID")
    assert str(a.PatientName) == "sub-01", (anon, "PatientName")
    assert a.PatientIdentityRemoved == "YES", (anon, "PatientIdentityRemoved")
    assert a.DeidentificationMethodCodeSequence[0].CodeValue == "113100", anon
    assert a.file_meta.MediaStorageSOPInstanceUID == a.SOPInstanceUID, (anon, "media uid")
    assert a.SOPInstanceUID.startswith("2.25."), anon
    data = open(anon, "rb").read()
    for kw in ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID"):
        v = str(r.get(kw, "") or "")
        assert len(v) < 8 or v.encode() not in data, (anon, kw, "original UID left")
    if "PixelData" in r:
        assert a.PixelData == r.PixelData, (anon, "pixels")
print("ok")
"#;
        let mut cmd = Command::new("python3");
        cmd.arg("-c").arg(script);
        for (raw, anon) in &pairs {
            cmd.arg(raw).arg(anon);
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            base.name(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

/// Every run of digits and dots as `<n>`: dciodvfy quotes referenced UIDs (even `0`) in some
/// messages, and those UIDs are replaced by design; the message around them is the kind.
fn without_uids(line: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if !run.is_empty() {
            out.push_str("<n>");
            run.clear();
        }
    };
    for c in line.chars() {
        if c.is_ascii_digit() || c == '.' {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out
}

/// dciodvfy's error lines as kinds: values in `<...>` after the message removed, UIDs
/// named `<n>`.
fn error_kinds(path: &Path) -> Vec<String> {
    let o = Command::new("dciodvfy").arg(path).output().unwrap();
    let text =
        String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
    let mut kinds: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("Error"))
        .map(|l| match l.find(" <") {
            Some(i) if l.contains("same value") => l[..i].to_string(),
            _ => without_uids(l),
        })
        .collect();
    kinds.sort();
    kinds.dedup();
    kinds
}

#[test]
fn dciodvfy_finds_no_error_kind_the_raw_file_lacked() {
    // dciodvfy exits non-zero for its usage text: present means it can be started.
    if !require("dciodvfy", Command::new("dciodvfy").output().is_ok()) {
        return;
    }
    let w = Workdir::new();
    for base in [Base::Basic, Base::Neuro] {
        let out = w.join(base.name());
        std::fs::create_dir_all(&out).unwrap();
        for (raw, anon) in run_all(&Profile::standard(base), &key(1), &out) {
            let before = error_kinds(&raw);
            let new: Vec<String> = error_kinds(&anon)
                .into_iter()
                .filter(|k| !before.contains(k))
                .collect();
            assert!(
                new.is_empty(),
                "{} under {}: new dciodvfy errors {new:?}",
                raw.display(),
                base.name()
            );
        }
    }
}

#[test]
fn the_same_key_gives_the_same_bytes_and_another_key_other_uids() {
    let w = Workdir::new();
    let profile = Profile::standard(Base::Neuro);
    let (a, b, c) = (w.join("a"), w.join("b"), w.join("c"));
    for d in [&a, &b, &c] {
        std::fs::create_dir_all(d).unwrap();
    }
    let first = run_all(&profile, &key(1), &a);
    let second = run_all(&profile, &key(1), &b);
    let other = run_all(&profile, &key(2), &c);
    for ((x, y), z) in first.iter().zip(&second).zip(&other) {
        let (bx, by, bz) = (
            std::fs::read(&x.1).unwrap(),
            std::fs::read(&y.1).unwrap(),
            std::fs::read(&z.1).unwrap(),
        );
        assert!(bx == by, "{} differs between two runs", x.0.display());
        assert!(bx != bz, "{} is the same under another key", x.0.display());
        let uid = |p: &Path| {
            let o = OpenFileOptions::new().open_file(p).unwrap();
            o.element(dicom_dictionary_std::tags::SOP_INSTANCE_UID)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        };
        assert_ne!(uid(&x.1), uid(&z.1));
    }
}

#[test]
fn dcm2niix_converts_a_neuro_mosaic_like_the_raw() {
    if !require("dcm2niix", tool_present("dcm2niix", &["-h"])) {
        return;
    }
    let (Some(f0), Some(f1)) = (
        shared_path("dicom/nibabel/0.dcm"),
        shared_path("dicom/nibabel/1.dcm"),
    ) else {
        return;
    };
    let w = Workdir::new();
    let raw = w.join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    std::fs::copy(&f0, raw.join("0.dcm")).unwrap();
    std::fs::copy(&f1, raw.join("1.dcm")).unwrap();
    let profile = Profile::standard(Base::Neuro);
    let anon = w.join("anon");
    for f in ["0.dcm", "1.dcm"] {
        Anonymizer::new(&profile)
            .key(key(3))
            .original_id("P101")
            .study_id("sub-01")
            .anonymize_file(&raw.join(f), &anon.join(f))
            .unwrap();
    }
    let convert = |dir: &Path, name: &str| -> (Vec<u8>, serde_json::Value) {
        let out = w.join(format!("nii-{name}"));
        std::fs::create_dir_all(&out).unwrap();
        let o = Command::new("dcm2niix")
            .args(["-z", "n", "-f", "series", "-o"])
            .arg(&out)
            .arg(dir)
            .output()
            .unwrap();
        assert!(o.status.success(), "dcm2niix failed on {name}");
        let nii = std::fs::read(out.join("series.nii")).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("series.json")).unwrap()).unwrap();
        (nii, json)
    };
    let (a_nii, a_json) = convert(&raw, "raw");
    let (b_nii, b_json) = convert(&anon, "anon");
    assert!(a_nii == b_nii, "the NIfTI differs after neuro");
    // Every sidecar field dcm2niix derives for analysis (timing, sequence, CSA-derived) matches.
    assert_eq!(a_json, b_json);
}

/// The oracle of the property test: `anon` against `raw`, both read with dicom-object (not the
/// writer's walker), at every depth. Every element the rules leave alone is identical (same
/// declared length, same value); every other one follows its action; sequences kept are
/// walked item by item; nothing is added but the de-identification attributes at the top.
struct Oracle<'a> {
    rules: &'a anontrack::deid::Rules,
    key: &'a StudyKey,
    offset: i64,
    /// Elements checked, by depth (0 = top level), to show the walk went deep.
    checked: Vec<usize>,
    /// Paths of the elements kept as they were, for the byte check with pydicom.
    kept: Vec<String>,
}

type Obj = dicom_object::InMemDicomObject;
type El = dicom_object::mem::InMemElement;

fn text_of(e: &El) -> String {
    e.to_str().map(|s| s.to_string()).unwrap_or_default()
}

/// Values as written (trailing NUL/space padding removed), split at backslashes.
fn values_of(e: &El) -> Vec<String> {
    text_of(e)
        .trim_end_matches(['\0', ' '])
        .split('\\')
        .map(|v| v.trim().to_string())
        .collect()
}

const ADDED: [(u16, u16); 4] = [
    (0x0012, 0x0062),
    (0x0012, 0x0063),
    (0x0012, 0x0064),
    (0x0028, 0x0303),
];
/// Dummies the writer may write (a raw value equal to one of them stays equal).
const DUMMIES: [&str; 7] = [
    "19000101",
    "000000",
    "19000101000000",
    "0",
    "000Y",
    "ANONYMIZED",
    "sub-01",
];

impl Oracle<'_> {
    /// The creator of the private block holding `tag` in `ds` (the element itself for a
    /// creator element).
    fn creator(ds: &Obj, tag: dicom_core::Tag) -> Option<String> {
        let at = if (0x0010..=0x00FF).contains(&tag.1) {
            tag.1
        } else {
            tag.1 >> 8
        };
        ds.element_opt(dicom_core::Tag(tag.0, at))
            .ok()
            .flatten()
            .map(|e| text_of(e).trim_end_matches(['\0', ' ']).to_string())
    }

    fn check(&mut self, raw: &Obj, anon: &Obj, depth: usize, path: &str) {
        use dicom_core::VR;
        if self.checked.len() <= depth {
            self.checked.resize(depth + 1, 0);
        }
        for x in raw.iter() {
            let tag = x.tag();
            if tag.1 == 0x0000 {
                continue; // group lengths are recomputed
            }
            self.checked[depth] += 1;
            let t = TagRef(tag.0, tag.1);
            let at = format!("{path}{t}");
            let act = if tag.0 % 2 == 1 {
                self.rules
                    .private_action(t, Self::creator(raw, tag).as_deref())
            } else {
                self.rules.action(t, x.vr())
            };
            if depth == 0 && ADDED.contains(&(tag.0, tag.1)) {
                continue; // the writer sets these
            }
            let y = anon.element_opt(tag).unwrap();
            let same = |y: &El| {
                y.vr() == x.vr()
                    && y.value() == x.value()
                    && y.header().length() == x.header().length()
            };
            match (act, y) {
                (Act::Remove, y) => assert!(y.is_none(), "{at} not removed"),
                (_, None) => panic!("{at} ({act:?}) missing"),
                (Act::Keep | Act::Clean | Act::ReplaceUid, Some(y)) if x.items().is_some() => {
                    let (ix, iy) = (x.items().unwrap(), y.items().expect("a sequence still"));
                    assert_eq!(ix.len(), iy.len(), "{at}: item count changed");
                    for (n, (a, b)) in ix.iter().zip(iy).enumerate() {
                        self.check(a, b, depth + 1, &format!("{at}[{n}]/"));
                    }
                }
                (Act::Keep, Some(y))
                    if tag.0 % 2 == 1 && self.rules.has(DeidOption::RetainSafePrivate) =>
                {
                    // A kept private value: identifiers inside are overwritten in place.
                    assert_eq!(
                        y.header().length(),
                        x.header().length(),
                        "{at}: kept blob resized"
                    );
                }
                (Act::Keep, Some(y)) => {
                    assert!(same(y), "{at} kept but changed");
                    self.kept.push(at);
                }
                (Act::Clean, Some(y)) => {
                    let v = text_of(y);
                    assert!(
                        same(y) || v.trim().is_empty() || v.trim() == "ANONYMIZED",
                        "{at} cleaned into something else"
                    );
                }
                (Act::Empty, Some(y)) => match y.items() {
                    Some(items) => assert!(items.is_empty(), "{at}: sequence not emptied"),
                    None => assert!(
                        y.header().length().0 == 0
                            || text_of(y).trim_end_matches(['\0', ' ']).is_empty(),
                        "{at} not emptied"
                    ),
                },
                (Act::Dummy, Some(y)) => {
                    let v = text_of(y);
                    let v = v.trim_end_matches(['\0', ' ']);
                    assert!(
                        !same(y) || DUMMIES.contains(&v) || x.header().length().0 == 0,
                        "{at}: the dummy is the original value"
                    );
                }
                (Act::Pseudonym, Some(y)) => assert_eq!(text_of(y).trim(), "sub-01", "{at}"),
                (Act::ReplaceUid, Some(y)) => {
                    let want: Vec<String> = values_of(x)
                        .iter()
                        .map(|u| {
                            if u.is_empty() {
                                String::new()
                            } else {
                                self.key.uid(u)
                            }
                        })
                        .collect();
                    assert_eq!(values_of(y), want, "{at}: not the keyed UID");
                }
                (Act::ShiftDate, Some(y)) => {
                    let want: Vec<String> = values_of(x)
                        .iter()
                        .map(|d| {
                            if d.is_empty() {
                                String::new()
                            } else if x.vr() == VR::DT {
                                shift_datetime(d, self.offset)
                                    .unwrap_or_else(|| "19000101000000".into())
                            } else {
                                shift_date(d, self.offset).unwrap_or_else(|| "19000101".into())
                            }
                        })
                        .collect();
                    assert_eq!(values_of(y), want, "{at}: not shifted by the offset");
                }
            }
        }
        // Nothing added, at any depth, but the de-identification attributes at the top.
        for y in anon.iter() {
            let tag = y.tag();
            if tag.1 == 0 || (depth == 0 && ADDED.contains(&(tag.0, tag.1))) {
                continue;
            }
            assert!(
                raw.element_opt(tag).unwrap().is_some(),
                "{path}{} added",
                TagRef(tag.0, tag.1)
            );
        }
    }
}

/// Checks `anon` against `raw` at every depth; returns the elements checked per depth.
fn check_all_depths(raw: &Path, anon: &Path, profile: &Profile, k: &StudyKey) -> Vec<usize> {
    let rules = profile.standard.as_ref().unwrap();
    let open = |p: &Path| OpenFileOptions::new().open_file(p).unwrap();
    let (r, a) = (open(raw), open(anon));
    let mut oracle = Oracle {
        rules,
        key: k,
        offset: k.date_offset("P101"),
        checked: Vec::new(),
        kept: Vec::new(),
    };
    oracle.check(&r, &a, 0, "");
    // The file meta: the media UID equals the output's SOP Instance UID (replaced or kept,
    // whatever the raw meta held); without one, it follows its own rule.
    let media = |o: &dicom_object::DefaultDicomObject| {
        o.meta()
            .media_storage_sop_instance_uid()
            .trim_end_matches('\0')
            .to_string()
    };
    match a.element(dicom_dictionary_std::tags::SOP_INSTANCE_UID) {
        Ok(sop) => assert_eq!(media(&a), text_of(sop).trim_end_matches(['\0', ' '])),
        Err(_) if rules.action(TagRef(0x0002, 0x0003), dicom_core::VR::UI) == Act::ReplaceUid => {
            assert_eq!(media(&a), k.uid(&media(&r)))
        }
        Err(_) => assert_eq!(media(&a), media(&r)),
    }
    same_bytes_per_pydicom(raw, anon, &oracle.kept);
    oracle.checked
}

/// The value bytes of every non-sequence element at every depth, as pydicom reads them
/// (its raw elements: the bytes in the file, padding included), keyed by path.
const RAW_BYTES: &str = r#"
import sys, json, pydicom
from pydicom.dataelem import RawDataElement
def walk(ds, path, out):
    for tag in list(ds.keys()):
        el = ds.get_item(tag)
        at = "%s(%04X,%04X)" % (path, tag.group, tag.element)
        raw = isinstance(el, RawDataElement)
        if raw and el.VR not in (None, "SQ", "UN"):
            out[at] = (el.value or b"").hex()
        elif ds[tag].VR == "SQ":
            for i, item in enumerate(ds[tag].value):
                walk(item, "%s[%d]/" % (at, i), out)
        else:
            out[at] = (el.value or b"").hex() if raw else None
res = []
for p in sys.argv[1:]:
    out = {}
    walk(pydicom.dcmread(p, force=True), "", out)
    res.append(out)
print(json.dumps(res))
"#;

/// Every element the oracle found kept holds the same bytes in both files, per pydicom.
fn same_bytes_per_pydicom(raw: &Path, anon: &Path, kept: &[String]) {
    if !require(
        "python3 with pydicom",
        tool_present("python3", &["-c", "import pydicom"]),
    ) {
        return;
    }
    let o = Command::new("python3")
        .args(["-c", RAW_BYTES])
        .arg(raw)
        .arg(anon)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: Vec<std::collections::HashMap<String, Option<String>>> =
        serde_json::from_slice(&o.stdout).unwrap();
    let mut compared = 0;
    for at in kept {
        let (Some(Some(x)), Some(Some(y))) = (v[0].get(at), v[1].get(at)) else {
            continue; // converted already (a value pydicom reads eagerly)
        };
        assert_eq!(x, y, "{at}: kept but its bytes changed");
        compared += 1;
    }
    // pydicom converts a few elements as it reads (SpecificCharacterSet, ...): those only.
    assert!(
        compared + 8 >= kept.len(),
        "pydicom compared only {compared} of {} kept elements",
        kept.len()
    );
}

#[test]
fn every_element_at_every_depth_follows_its_action_for_random_option_sets() {
    let files: Vec<PathBuf> = [
        "nibabel/0.dcm",
        "pydicom/CT_small.dcm",
        "pydicom-data/eCT_Supplemental.dcm",
        "pydicom/rtdose_expb.dcm",
        "pydicom-data/emri_small.dcm",
        "pydicom/test-SR.dcm",
        "pydicom-data/MR-SIEMENS-DICOM-WithOverlays.dcm",
    ]
    .iter()
    .filter_map(|f| shared_path(&format!("dicom/{f}")))
    .collect();
    if files.is_empty() {
        return;
    }
    let w = Workdir::new();
    let depths = std::cell::RefCell::new(Vec::<usize>::new());
    let options = prop::collection::vec(0..DeidOption::ALL.len(), 0..5);
    let mut runner = TestRunner::new(Config {
        cases: 24,
        ..Config::default()
    });
    runner
        .run(
            &(0..files.len(), options, any::<bool>()),
            |(fi, opts, neuro)| {
                let mut chosen: Vec<DeidOption> =
                    opts.iter().map(|i| DeidOption::ALL[*i]).collect();
                if chosen.contains(&DeidOption::RetainLongFullDates) {
                    chosen.retain(|o| *o != DeidOption::RetainLongModifiedDates);
                }
                let base = if neuro { Base::Neuro } else { Base::Basic };
                let Ok(profile) = Profile::standard(base).with_options(&chosen) else {
                    return Ok(()); // full dates with neuro's modified dates: refused, rightly
                };
                let k = key(9);
                let dst = w.join("out.dcm");
                Anonymizer::new(&profile)
                    .key(k.clone())
                    .original_id("P101")
                    .study_id("sub-01")
                    .anonymize_file(&files[fi], &dst)
                    .unwrap();
                let checked = check_all_depths(&files[fi], &dst, &profile, &k);
                let mut d = depths.borrow_mut();
                if d.len() < checked.len() {
                    d.resize(checked.len(), 0);
                }
                for (i, n) in checked.into_iter().enumerate() {
                    d[i] += n;
                }
                Ok(())
            },
        )
        .unwrap();
    // The walk went inside sequences, and inside sequences inside sequences.
    let d = depths.into_inner();
    assert!(
        d.len() >= 3 && d[2] > 0,
        "elements checked per depth: {d:?}"
    );
}

/// Every UI value at any depth of the DICOM files under `dir` (read with dicom-object, not
/// the writer's walker).
fn all_uids(dir: &Path) -> std::collections::BTreeSet<String> {
    fn walk(obj: &dicom_object::InMemDicomObject, out: &mut std::collections::BTreeSet<String>) {
        for el in obj.iter() {
            if let Some(items) = el.items() {
                for item in items {
                    walk(item, out);
                }
            } else if el.vr() == dicom_core::VR::UI
                && let Ok(v) = el.to_str()
            {
                for u in v.trim_end_matches(['\0', ' ']).split('\\') {
                    if !u.trim().is_empty() {
                        out.insert(u.trim().to_string());
                    }
                }
            }
        }
    }
    let mut out = std::collections::BTreeSet::new();
    for f in crate::harness::files_under(dir) {
        if let Ok(o) = OpenFileOptions::new().open_file(&f) {
            out.insert(
                o.meta()
                    .media_storage_sop_instance_uid()
                    .trim_end_matches('\0')
                    .to_string(),
            );
            walk(&o, &mut out);
        }
    }
    out
}

/// The `old,new` pairs of a mapping file (no header), checking its header and its mode.
fn mapping_lines(path: &Path) -> Vec<(String, String)> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{} is not owner-only", path.display());
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("old,new"), "{}", path.display());
    let pairs: Vec<(String, String)> = lines
        .map(|l| {
            let (a, b) = l.split_once(',').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect();
    let distinct: std::collections::BTreeSet<_> = pairs.iter().collect();
    assert_eq!(
        distinct.len(),
        pairs.len(),
        "duplicate lines in {}",
        path.display()
    );
    pairs
}

#[test]
fn write_mapping_on_anonymize_maps_every_replaced_uid_and_the_id_owner_only() {
    let w = Workdir::new();
    w.run([
        "gen-study",
        ".",
        "--participants",
        "2",
        "--series",
        "2",
        "--slices",
        "3",
    ])
    .expect_code(0);
    let run = |orig: &str, id: &str, profile: &str, map: Option<&str>| {
        let mut args = vec![
            "anonymize".to_string(),
            format!("sourcedata/{orig}"),
            format!("anon-{profile}/{id}"),
            "--original-id".into(),
            orig.into(),
            "--study-id".into(),
            id.into(),
            "--profile".into(),
            profile.into(),
        ];
        if let Some(m) = map {
            args.extend(["--write-mapping".into(), m.into()]);
        }
        let r = w.run(&args);
        r.expect_code(0);
        r.stdout() + &r.stderr()
    };
    let out1 = run("70001", "S01", "basic", Some("map"));
    let out2 = run("70001", "S01", "basic", Some("map")); // a re-run: merged, no duplicates
    let out3 = run("70002", "S02", "basic", Some("map"));
    run("70001", "S01", "basic", None);
    assert!(!w.join("anon-basic/S01/uid_mapping.csv").exists());

    let key = StudyKey::load_or_create(&w.join(".anontrack/study.key"))
        .unwrap()
        .0;
    let pairs = mapping_lines(&w.join("map/uid_mapping.csv"));
    for (old, new) in &pairs {
        assert_eq!(&key.uid(old), new, "a mapping line is not the keyed UID");
    }
    // The oracle: the UIDs of the raw files that no output file holds any more.
    let raw = all_uids(&w.join("sourcedata"));
    let anon = all_uids(&w.join("anon-basic"));
    let replaced: std::collections::BTreeSet<String> = raw.difference(&anon).cloned().collect();
    let olds: std::collections::BTreeSet<String> = pairs.iter().map(|p| p.0.clone()).collect();
    assert!(!replaced.is_empty());
    assert_eq!(
        olds, replaced,
        "the mapping's originals differ from the UIDs replaced"
    );
    for (_, new) in &pairs {
        assert!(anon.contains(new), "a mapped UID is in no output file");
    }
    assert_eq!(
        mapping_lines(&w.join("map/patid_mapping.csv")),
        [
            ("70001".into(), "S01".into()),
            ("70002".into(), "S02".into())
        ]
    );
    // Never printed.
    for text in [out1, out2, out3] {
        assert!(!olds.iter().any(|u| text.contains(u.as_str())), "{text}");
    }

    // The lab profile changes no UID: the ID mapping only.
    run("70001", "S01", "lab", Some("map-lab"));
    assert!(w.join("map-lab/patid_mapping.csv").is_file());
    assert!(!w.join("map-lab/uid_mapping.csv").exists());
}

#[test]
fn write_mapping_on_sync_merges_each_passed_participant() {
    use anontrack::synth::ParticipantSpec;
    let s = crate::sync::Study::simple(&[("S01", "70001", "KH", ""), ("S02", "70002", "KH", "")]);
    s.participant(&ParticipantSpec::new("70001", 3));
    s.participant(&ParticipantSpec::new("70002", 4));
    std::fs::write(s.w.join("anontrack.toml"), "profile = \"neuro\"\n").unwrap();
    let r = s.sync(&["--date", "20240131", "--write-mapping", "audit/mapping"]);
    r.expect_code(0);
    let key = StudyKey::load_or_create(&s.w.join(".anontrack/study.key"))
        .unwrap()
        .0;
    let pairs = mapping_lines(&s.w.join("audit/mapping/uid_mapping.csv"));
    let raw = all_uids(&s.raw());
    let anon = all_uids(&s.w.join("AnonDcm"));
    let replaced: std::collections::BTreeSet<String> = raw.difference(&anon).cloned().collect();
    let olds: std::collections::BTreeSet<String> = pairs.iter().map(|p| p.0.clone()).collect();
    assert_eq!(olds, replaced);
    assert!(pairs.iter().all(|(o, n)| &key.uid(o) == n));
    assert_eq!(
        mapping_lines(&s.w.join("audit/mapping/patid_mapping.csv")),
        [
            ("70001".into(), "S01".into()),
            ("70002".into(), "S02".into())
        ]
    );
    let text = r.stdout() + &r.stderr();
    assert!(!olds.iter().any(|u| text.contains(u.as_str())));
    // Reports and the audit log never hold them either.
    for f in crate::harness::files_under(&s.w.join(".anontrack")) {
        let t = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(
            !olds.iter().any(|u| t.contains(u.as_str())),
            "{} holds an original UID",
            f.display()
        );
    }
}

#[test]
fn sr_content_trees_keep_their_shape_and_lose_their_free_text_names_and_dates() {
    let srs: Vec<PathBuf> = [
        "dicomscope-deb/reportsi.dcm",
        "dicomscope-deb/reportki.dcm",
        "pydicom/test-SR.dcm",
    ]
    .iter()
    .filter_map(|f| shared_path(&format!("dicom/{f}")))
    .collect();
    if srs.is_empty()
        || !require(
            "python3 with pydicom",
            tool_present("python3", &["-c", "import pydicom"]),
        )
    {
        return;
    }
    let w = Workdir::new();
    let script = r#"
import sys, pydicom
def tree(ds, out):
    # The content tree: ContentSequence items, depth first.
    for it in ds.get("ContentSequence", []):
        out.append(it)
        tree(it, out)
    return out
dummy_dates = sys.argv[1] == "basic"
for raw, anon in zip(sys.argv[2::2], sys.argv[3::2]):
    r, a = pydicom.dcmread(raw), pydicom.dcmread(anon)
    ri, ai = tree(r, []), tree(a, [])
    # The same tree: as many items, the same value types, relationships and concepts in order.
    assert len(ri) == len(ai) > 0, (anon, "item count", len(ri), len(ai))
    for x, y in zip(ri, ai):
        for kw in ("ValueType", "RelationshipType", "ConceptNameCodeSequence"):
            assert x.get(kw) == y.get(kw), (anon, kw)
    data = open(anon, "rb").read()
    for it in ai:
        if "TextValue" in it:
            assert it.TextValue == "ANONYMIZED", (anon, "text kept")
        if "PersonName" in it:
            assert str(it.PersonName) == "sub-01", (anon, "person name kept")
        for kw in ("Date", "DateTime", "ObservationDateTime"):
            v = str(it.get(kw, "") or "")
            assert not dummy_dates or v == "" or v.startswith("19000101"), (anon, kw)
    for it in ri + list(r.get("VerifyingObserverSequence", [])):
        for kw in ("TextValue", "PersonName", "VerifyingObserverName", "VerifyingOrganization"):
            v = str(it.get(kw, "") or "").strip()
            if len(v) >= 4:
                assert v.encode() not in data, (anon, kw, "left in the output")
print("ok")
"#;
    for base in [Base::Basic, Base::Neuro] {
        let out = w.join(base.name());
        std::fs::create_dir_all(&out).unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg("-c").arg(script).arg(base.name());
        for (i, raw) in srs.iter().enumerate() {
            let dst = out.join(format!("{i}.dcm"));
            Anonymizer::new(&Profile::standard(base))
                .key(key(1))
                .original_id("P101")
                .study_id("sub-01")
                .anonymize_file(raw, &dst)
                .unwrap();
            cmd.arg(raw).arg(&dst);
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{}: {}",
            base.name(),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
