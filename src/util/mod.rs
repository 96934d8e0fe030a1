//! Small helpers shared by every stage: digests, atomic file writes, time stamps, package URLs,
//! URLs (credentials, canonical source URLs).

pub mod digest;
pub mod fs;
pub mod purl;
pub mod time;
pub mod url;
