//! Link the prebuilt libduckdb (see README, "DuckDB"). When `DUCKDB_LIB_DIR` is set,
//! the binaries get an rpath to it so they run without `LD_LIBRARY_PATH`.
// A build script talks to cargo by printing.
#![allow(clippy::print_stdout)]

fn main() {
    println!("cargo:rerun-if-env-changed=DUCKDB_LIB_DIR");
    if let Ok(dir) = std::env::var("DUCKDB_LIB_DIR") {
        if !dir.is_empty() {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
