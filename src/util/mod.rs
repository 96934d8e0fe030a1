//! Small helpers shared by every stage: digests, atomic file writes, time stamps, package URLs.

pub mod digest;
pub mod fs;
pub mod purl;
pub mod time;

/// Temporary timing trace (CP_TRACE=1).
pub fn trace(label: &str) {
    use std::sync::OnceLock;
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    let s = *START.get_or_init(std::time::Instant::now);
    if std::env::var_os("CP_TRACE").is_some() {
        eprintln!(
            "TRACE {:7.1} ms {label}",
            s.elapsed().as_secs_f64() * 1000.0
        );
    }
}
