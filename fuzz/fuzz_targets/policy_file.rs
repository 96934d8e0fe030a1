//! `verify --policy FILE`: TOML or JSON expectations.
#![no_main]

use cargo_provenance::verify::Expectations;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Expectations::parse(s, "fuzz");
    }
});
