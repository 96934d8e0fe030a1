//! Small helpers shared by every stage: digests, atomic file writes, time stamps,
//! URLs (credentials, canonical source URLs), mapping a large list on every core.

pub mod digest;
pub mod duration;
pub mod fs;
pub mod par;
pub mod time;
pub mod url;
