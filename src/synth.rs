//! Synthetic DICOM files with made-up PHI, built in code: for `demo`, the tests and benchmarks.
