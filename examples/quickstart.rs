//! Quickstart: placeholder until the in-memory store lands.
fn main() {
    println!("aether quickstart");
}
