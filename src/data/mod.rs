//! Data migrations: CSV files transformed by declarative ops. `flow` is pure and shared
//! with the build; the rest streams files and swaps them in step with the store's
//! commit.

pub mod check;
pub mod flow;
pub mod stream;
pub mod swap;
