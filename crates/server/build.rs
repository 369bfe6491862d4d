//! Embeds the built web console (`console/dist`, made by `cd console && npm ci && npm run build`)
//! into the binary: writes `$OUT_DIR/console_files.rs`, a table of `include_bytes!` of every file
//! there. Without a build the table is empty and the server says at `/` how to build the console;
//! the API compiles and serves either way.
//!
//! A generated table rather than a crate such as rust-embed: no dependency, and the rebuild rule
//! is ours. Cargo reruns this script when `console/dist` changes, or, while it does not exist,
//! when anything under `console/` changes (so the first `npm run build` is noticed). A watched
//! path must exist: a missing one makes cargo rerun the script, and recompile this crate, on
//! every build.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let console = manifest.join("../../console");
    let dist = console.join("dist");
    println!("cargo:rerun-if-changed=build.rs");
    if dist.join("index.html").is_file() {
        println!("cargo:rerun-if-changed={}", dist.display());
    } else if console.is_dir() {
        println!("cargo:rerun-if-changed={}", console.join("package.json").display());
        println!("cargo:rerun-if-changed={}", console.display());
    }

    let mut files = Vec::new();
    if dist.join("index.html").is_file() {
        collect(&dist, &dist, &mut files);
    }
    files.sort();
    let mut table = String::from("&[\n");
    for (relative, absolute) in &files {
        if relative.ends_with(".gz") {
            continue;
        }
        let gzip_path = PathBuf::from(format!("{}.gz", absolute.display()));
        let gzip = if gzip_path.is_file() {
            format!("Some(include_bytes!({:?}))", gzip_path.display().to_string())
        } else {
            "None".to_string()
        };
        writeln!(
            table,
            "    EmbeddedFile {{ path: {relative:?}, body: include_bytes!({:?}), gzip: {gzip} }},",
            absolute.display().to_string()
        )
        .expect("write to a String");
    }
    table.push(']');
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("console_files.rs");
    std::fs::write(&out, table).expect("write console_files.rs");
}

/// Every file under `dir`, with its path relative to `root` (always with `/`).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let relative = relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            files.push((relative, path));
        }
    }
}
