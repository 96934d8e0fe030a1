//! Sigstore trusted roots (`--trusted-root FILE`).
#![no_main]

use cargo_provenance::verify::TrustedRoot;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = TrustedRoot::parse(data, "fuzz");
});
