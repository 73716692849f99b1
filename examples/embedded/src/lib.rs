//! The to-do application's chain, as its build script compiled it from migrations/:
//! `CHAIN`, `Version`, `MIGRATIONS` and `SETTINGS`, for its binary to migrate with.

semigrate::include_chain!();
