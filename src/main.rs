//! `cargo-provenance`: the binary cargo runs for `cargo provenance`. All the work is in the
//! library; this only hands over the arguments and the exit code.

fn main() {
    std::process::exit(cargo_provenance::cli::run(std::env::args_os().collect()));
}
