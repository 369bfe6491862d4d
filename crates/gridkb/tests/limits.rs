//! `gridkb serve --limits FILE`: overrides are checked before the server starts.

use std::path::Path;
use std::process::Output;

mod common;
use common::gridkb as binary;

fn serve_with_limits(limits: &str, data: &Path) -> Output {
    let file = data.join("limits.json");
    std::fs::write(&file, limits).expect("write limits");
    binary()
        .args(["serve", "--addr", "127.0.0.1:0", "--no-dense", "--limits"])
        .arg(&file)
        .arg("--data")
        .arg(data)
        .output()
        .expect("run gridkb")
}

#[test]
fn misspelt_or_nonsensical_limits_stop_the_server_with_the_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (limits, named) in [
        (r#"{"max_limt": 50}"#, "max_limt"),
        (r#"{"max_limit": 0}"#, "max_limit"),
        (r#"{"default_limit": 50, "max_limit": 20}"#, "default_limit"),
        (r#"{"search_queue": "many"}"#, "limits"),
        ("not json", "limits"),
    ] {
        let output = serve_with_limits(limits, dir.path());
        assert!(!output.status.success(), "{limits} was accepted");
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(message.contains(named), "{limits}: {message}");
    }
    // Nothing was created in the data directory: the check runs before anything is opened.
    assert!(!dir.path().join("records.redb").exists());
}
