// Filled in by the metrics benchmark work.
fn main() {}
