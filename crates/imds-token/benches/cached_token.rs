//! The cost of reading a cached token: the path every storage request takes.
fn main() {}
