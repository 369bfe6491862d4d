//! What the binary's tests share.

use std::process::Command;

/// The `gridkb` binary under test, with every `GRIDKB_*` variable of the test's environment
/// removed (a developer's `GRIDKB_DATA`, `GRIDKB_LIMITS` or `GRIDKB_MODEL` must not change what a
/// test runs) and warnings-only logs; a test sets what it needs on top.
pub fn gridkb() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_gridkb"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("GRIDKB_") {
            command.env_remove(name);
        }
    }
    command.env("GRIDKB_LOG", "warn");
    command
}
