//! RFC 9162 inclusion-proof arithmetic with any index, tree size and proof length.
#![no_main]

use cargo_provenance::verify::tlog::root_from_inclusion_proof;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 48 {
        return;
    }
    let index = u64::from_le_bytes(data[..8].try_into().unwrap());
    let size = u64::from_le_bytes(data[8..16].try_into().unwrap());
    let leaf: [u8; 32] = data[16..48].try_into().unwrap();
    let proof: Vec<[u8; 32]> = data[48..]
        .chunks_exact(32)
        .map(|c| c.try_into().unwrap())
        .collect();
    let _ = root_from_inclusion_proof(index, size, leaf, &proof);
});
