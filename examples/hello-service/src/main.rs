//! Prints a JSON greeting: `{"greeting":"hello from hello-service","answer":"42"}`.

use serde::Serialize;

#[derive(Serialize)]
struct Greeting<'a> {
    greeting: &'a str,
    answer: String,
}

fn main() {
    let mut buf = itoa::Buffer::new();
    let who = std::env::args().nth(1).unwrap_or_else(|| "hello-service".to_owned());
    let greeting = format!("hello from {who}");
    let g = Greeting { greeting: &greeting, answer: buf.format(42).to_owned() };
    println!("{}", serde_json::to_string(&g).expect("a greeting serialises"));
}
