//! `gridkb corpus generate --scale N`: a scale outside 1..=10 is a clear error and writes nothing.

use std::process::Command;

#[test]
fn a_scale_outside_one_to_ten_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corpus = dir.path().join("corpus");
    for scale in ["0", "11", "-1", "two"] {
        let output = Command::new(env!("CARGO_BIN_EXE_gridkb"))
            .args(["corpus", "generate", &format!("--scale={scale}"), "--corpus"])
            .arg(&corpus)
            .output()
            .expect("run gridkb");
        assert!(!output.status.success(), "--scale {scale} was accepted");
        let message = String::from_utf8_lossy(&output.stderr);
        assert!(message.contains("--scale"), "--scale {scale}: {message}");
        if scale.parse::<u32>().is_ok() {
            assert!(message.contains("1..=10"), "--scale {scale}: {message}");
        }
    }
    assert!(!corpus.exists(), "a refused scale wrote {}", corpus.display());
}
