//! Types shared by every part of customs. This crate does no I/O.
//!
//! ```
//! use customs_core::{ImageRef, Severity};
//! let r: ImageRef = "nginx:1.27".parse().unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/nginx:1.27");
//! assert!(Severity::High > Severity::Medium);
//! ```
#![deny(missing_docs)]

mod digest;
mod finding;
mod reference;
mod report;

pub use digest::{Digest, DigestError};
pub use finding::{Confidence, Finding, Severity, attack};
pub use reference::{ImageRef, ReferenceError};
pub use report::{
    ContentInfo, Coverage, Drivers, ExpiredIgnore, ImageConfigSummary, ImageInfo, LayerInfo,
    MachineImageInfo, Platform, REPORT_SCHEMA, Report, Skipped, Suppressed, Verdict,
};
