//! Records whether the compiler has `u128` (it always has, today) as a cfg, through autocfg:
//! a real build script with a build-dependency.

fn main() {
    let ac = autocfg::new();
    ac.emit_has_type("u128");
    println!("cargo:rerun-if-changed=build.rs");
}
