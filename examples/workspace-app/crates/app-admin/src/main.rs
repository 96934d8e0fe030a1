//! The example admin tool: prints a counter line.

fn main() {
    println!("{}", app_core::counter_line("admin", 7));
}
