//! Small helpers shared by every stage: digests, atomic file writes, time stamps,
//! URLs (credentials, canonical source URLs).

pub mod digest;
pub mod duration;
pub mod fs;
pub mod time;
pub mod url;
