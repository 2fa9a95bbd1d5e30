//! `anontrack gen-study`: writes a synthetic study (made-up data only) for benchmarks and manual
//! tests, and prints what it wrote.

use crate::error::{Error, Result};
use crate::exit::Outcome;
use crate::synth::{self, Faults};
use crate::ui::Ui;
use std::path::PathBuf;

/// Arguments of `anontrack gen-study`.
#[derive(Debug, clap::Args)]
pub struct GenStudyArgs {
    /// Folder to write into; participants go to `OUT/sourcedata/<original_id>/`.
    pub out: PathBuf,

    /// Number of participants.
    #[arg(long, default_value_t = 1)]
    pub participants: usize,

    /// Series per participant.
    #[arg(long, default_value_t = 4)]
    pub series: usize,

    /// Slices (files) per series.
    #[arg(long, default_value_t = 400)]
    pub slices: u32,

    /// Seed: the same seed writes byte-identical files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Image rows and columns.
    #[arg(long, default_value_t = 240)]
    pub matrix: u16,

    /// Write Implicit VR Little Endian instead of Explicit VR Little Endian.
    #[arg(long)]
    pub implicit_vr: bool,

    /// Seed a problem into the first participant (repeatable).
    #[arg(long, value_enum)]
    pub fault: Vec<FaultArg>,
}

/// A problem to seed, see [`Faults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FaultArg {
    /// The patient's name in private (0033,1013) in the first series.
    NameInPrivate,
    /// A non-DICOM notes.txt in the participant folder.
    Notes,
    /// The last file of the last series truncated.
    Truncated,
    /// One file with another participant's PatientID and name.
    IdMismatch,
    /// All of the above.
    All,
}

/// One participant written, as printed with `--json`.
#[derive(Debug, serde::Serialize)]
struct WrittenJson<'a> {
    original_id: &'a str,
    dir: String,
    files: usize,
    bytes: u64,
}

/// Runs `anontrack gen-study`.
pub fn run(args: GenStudyArgs, ui: &Ui) -> Result<Outcome> {
    let GenStudyArgs {
        out,
        participants,
        series,
        slices,
        seed,
        matrix,
        implicit_vr,
        fault,
    } = args;
    if participants == 0 || series == 0 || slices == 0 || matrix == 0 {
        return Err(Error::Usage(
            "`--participants`, `--series`, `--slices` and `--matrix` must be at least 1".into(),
        ));
    }
    let mut faults = Faults::default();
    for f in fault {
        match f {
            FaultArg::NameInPrivate => faults.name_in_private = true,
            FaultArg::Notes => faults.notes_file = true,
            FaultArg::Truncated => faults.truncated_file = true,
            FaultArg::IdMismatch => faults.id_mismatch = true,
            FaultArg::All => faults = Faults::all(),
        }
    }
    let mut total_files = 0;
    let mut total_bytes = 0;
    for i in 0..participants {
        let spec = synth::study_participant(i, series, slices, seed)
            .matrix(matrix, matrix)
            .implicit_vr(implicit_vr)
            .faults(if i == 0 { faults } else { Faults::default() });
        let dir = out.join("sourcedata").join(&spec.original_id);
        let written = synth::write_participant(&dir, &spec)?;
        total_files += written.files.len();
        total_bytes += written.bytes;
        ui.line(format!(
            "{}  {} series  {} files  {:.1} MB",
            written.dir.display(),
            series,
            written.files.len(),
            written.bytes as f64 / 1e6
        ));
        ui.json(&WrittenJson {
            original_id: &written.original_id,
            dir: written.dir.display().to_string(),
            files: written.files.len(),
            bytes: written.bytes,
        });
    }
    ui.line(format!(
        "wrote {participants} participant(s), {total_files} files, {:.1} MB (synthetic, made-up names)",
        total_bytes as f64 / 1e6
    ));
    Ok(Outcome::Success)
}
