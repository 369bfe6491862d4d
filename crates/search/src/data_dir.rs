//! The lock of a data directory and the permissions it is kept under.
//!
//! One process at a time opens a data directory (`serve`, `ingest`, `reindex`, `search`, ...):
//! each holds an exclusive lock on `DIR/gridkb.lock` for as long as its engine lives, so
//! `reindex` cannot delete a projection under a running server and two writers never race on the
//! store's projections. The lock is the operating system's (released when the process dies, even
//! by `kill -9`), so a stale lock file never blocks a restart.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The lock file inside a data directory.
pub const LOCK_FILE: &str = "gridkb.lock";

/// The request log (`journal` crate): requests served, feedback, task states. Not a projection:
/// it is not rebuilt from the store, and `reindex` leaves it alone.
pub const JOURNAL_DIR: &str = "journal";

/// The projections of a data directory: disposable, rebuilt from the store when missing.
pub const PROJECTION_DIRS: [&str; 2] = ["lexical", "vectors"];

/// An exclusive hold on one data directory; released on drop.
#[derive(Debug)]
pub struct DataDirLock {
    dir: PathBuf,
    /// Whether [`DataDirLock::remove_projections`] ran: their rebuild is then no repair.
    projections_removed: bool,
    /// Held open: the lock lives as long as this file handle.
    _file: File,
}

impl DataDirLock {
    /// Creates `dir` when absent (mode 0700 on Unix, and an existing one is narrowed to 0700) and
    /// takes its lock, or says which directory another gridkb process holds.
    pub fn acquire(dir: &Path) -> Result<DataDirLock> {
        let fail = |message: String| Error::DataDir { path: dir.display().to_string(), message };
        create_private_dir(dir).map_err(|e| fail(e.to_string()))?;
        let path = dir.join(LOCK_FILE);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file =
            options.open(&path).map_err(|e| fail(format!("cannot open the lock file {}: {e}", path.display())))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { dir: dir.to_path_buf(), projections_removed: false, _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(fail(
                "another gridkb process (serve, ingest, reindex, ...) is using this data directory; stop it first, \
                 or give this command another --data"
                    .into(),
            )),
            Err(std::fs::TryLockError::Error(e)) => Err(fail(format!("cannot lock {}: {e}", path.display()))),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the projections were deleted on purpose under this lock (by `reindex`).
    pub fn projections_removed(&self) -> bool {
        self.projections_removed
    }

    /// Deletes the projections (lexical index, vector index) so that the next open rebuilds them
    /// from the store; the store, the keys and the embedding cache are kept. Needs the lock.
    pub fn remove_projections(&mut self) -> Result<()> {
        self.projections_removed = true;
        for name in PROJECTION_DIRS {
            let path = self.dir.join(name);
            match std::fs::remove_dir_all(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::DataDir { path: path.display().to_string(), message: e.to_string() }),
            }
        }
        Ok(())
    }
}

/// Whether some process holds the lock of `dir` now (a running `serve`, say).
pub fn is_in_use(dir: &Path) -> bool {
    let Ok(file) = OpenOptions::new().read(true).write(true).open(dir.join(LOCK_FILE)) else {
        return false;
    };
    matches!(file.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// `create_dir_all`, with the directory itself readable by its owner only (Unix).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        let first = DataDirLock::acquire(&data).expect("first lock");
        let second = DataDirLock::acquire(&data).expect_err("the directory is held");
        assert!(second.to_string().contains("another gridkb process"), "{second}");
        drop(first);
        DataDirLock::acquire(&data).expect("free again after drop");
    }

    #[cfg(unix)]
    #[test]
    fn the_data_directory_and_the_lock_file_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("mkdir");
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let _lock = DataDirLock::acquire(&data).expect("lock");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&data.join(LOCK_FILE)), 0o600);
    }
}
