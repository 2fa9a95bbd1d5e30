//! The process exit codes, documented in one place (README "Exit codes" repeats this table).
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | everything asked for was done (or there was nothing to do) |
//! | 1 | anontrack ran, but problems were recorded (problem notes, findings) |
//! | 2 | anontrack could not proceed (bad input, locked workbook, usage error, a full disk) |
//! | 130 | interrupted (Ctrl-C, SIGTERM): the rows finished before were saved |

use std::process::ExitCode;

/// How a command ended, before it becomes a process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// All done, or nothing to do: exit 0.
    Success,
    /// Ran to the end, but problems were recorded: exit 1.
    Problems,
    /// Could not proceed: exit 2.
    Error,
    /// Stopped by Ctrl-C or a termination signal: exit 130.
    Interrupted,
}

impl Outcome {
    /// The outcome for a run that recorded `problems` problems.
    pub fn from_problems(problems: usize) -> Self {
        if problems == 0 {
            Self::Success
        } else {
            Self::Problems
        }
    }

    /// The numeric exit code.
    pub fn as_i32(self) -> i32 {
        match self {
            Self::Success => 0,
            Self::Problems => 1,
            Self::Error => 2,
            Self::Interrupted => i32::from(crate::interrupt::EXIT_CODE),
        }
    }

    /// The process exit code.
    pub fn code(self) -> ExitCode {
        ExitCode::from(self.as_i32() as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        assert_eq!(Outcome::Success.as_i32(), 0);
        assert_eq!(Outcome::Problems.as_i32(), 1);
        assert_eq!(Outcome::Error.as_i32(), 2);
        assert_eq!(Outcome::from_problems(0), Outcome::Success);
        assert_eq!(Outcome::from_problems(3), Outcome::Problems);
    }
}
