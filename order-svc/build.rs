// The migrations are embedded by `sqlx::migrate!`, which cannot tell Cargo
// to watch the folder: without this, a new migration file is not in the
// binary until some source file changes.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
