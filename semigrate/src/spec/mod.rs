//! The spec folder: file names, the TOML model, and the lowering into the runtime
//! model. The build feature reads specs; without it, the runtime keeps only what
//! `new`, `init` and `schema` need (file names and the model's JSON Schema).

#[cfg(feature = "build")]
pub mod checksum;
pub mod document;
#[cfg(feature = "build")]
mod folder;
pub mod name;
#[cfg(feature = "build")]
pub mod rust;

#[cfg(feature = "build")]
pub use folder::{prove, spec_files};
