//! Small helpers shared by every stage: digests, atomic file writes, time stamps.

pub mod digest;
pub mod fs;
pub mod time;
