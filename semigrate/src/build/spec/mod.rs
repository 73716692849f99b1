//! The spec folder: the TOML model, the lowering into the runtime model, checksums and
//! the Rust functions specs name.

pub mod checksum;
pub mod document;
mod folder;
pub mod rust;

pub use folder::{prove, spec_files};
