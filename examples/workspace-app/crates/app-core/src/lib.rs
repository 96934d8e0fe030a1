//! Shared logic of the example workspace.

/// Formats a counter line, `"<name>: <n>"`.
pub fn counter_line(name: &str, n: u64) -> String {
    let mut buf = itoa::Buffer::new();
    format!("{name}: {}", buf.format(n))
}

/// True when the build script found `u128`.
pub fn has_u128() -> bool {
    cfg!(has_u128)
}
