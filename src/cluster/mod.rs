//! Past one machine: a sync split into a plan, independent work items and one collect step.
//!
//! - [`plan_file`]: the plan (`sync --plan-out`), one sync's work pinned in a JSON file;
//! - [`work`]: one item worked alone (`anontrack work`), its result saved under
//!   `.anontrack/results/<run>/<ID>.json`;
//! - [`collect`]: the saved results applied to the workbook once (`sync --collect`);
//! - [`slurm`]: the text of the SLURM submit script (`slurm-script`); anontrack never calls
//!   `sbatch` itself.
//!
//! Each work item writes only its own files (its report and its result under
//! `.anontrack/results/<run>/`); only the collect step writes the workbook and the audit log.

pub mod collect;
pub mod plan_file;
pub mod slurm;
pub mod work;
