//! Stage 1, inspect: what the build comes from (toolchain, git state, dependency graph,
//! cargo settings), read without changing anything (Cargo.lock is never rewritten).

pub mod model;

pub use model::*;
