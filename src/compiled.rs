//! The chain of `migrations/`, compiled in by `build.rs`.

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
