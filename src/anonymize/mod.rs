//! Anonymizing one participant: the profile applied to each DICOM file, byte-surgically.
//!
//! The writer locates top-level elements with dicom-rs's parser and replaces only the bytes of
//! the elements the profile owns (value and length); everything else is copied as it was.

pub mod profile;

pub use profile::Profile;
