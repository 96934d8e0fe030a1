//! The example "server": prints its status once and exits.

use app_macros::Describe;

#[derive(Describe)]
struct Server;

fn main() {
    let line = app_core::counter_line(Server::describe(), 1);
    #[cfg(feature = "json")]
    println!("{}", serde_json::json!({ "status": line, "u128": app_core::has_u128() }));
    #[cfg(not(feature = "json"))]
    println!("{line} (u128: {})", app_core::has_u128());
}

#[cfg(test)]
mod tests {
    #[test]
    fn counter_line_has_the_number() {
        let n = fastrand::u64(..1000);
        assert!(app_core::counter_line("x", n).ends_with(&n.to_string()));
    }
}
