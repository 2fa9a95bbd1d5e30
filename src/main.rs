//! The `anontrack` binary: everything lives in the library; this only hands over the arguments.

use std::process::ExitCode;

/// mimalloc rather than the system allocator: the verifier and the writer make a few hundred
/// small allocations per file, and with glibc's malloc these cost about a fifth of `sync`'s
/// user time (measured in `docs/performance.md`). The price is a larger resident set (tens of
/// MB, not hundreds), which the same page records.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    anontrack::run(std::env::args_os())
}
