//! The layout of a data directory, its lock, and the permissions it is kept under.
//!
//! [`DataLayout`] is the one place that knows where each file of a data directory lives: the
//! engine, the server (keys, journal, backups), the binary (`serve.addr`, the first-start marker)
//! and the crash soak all ask it, so a file is named once.
//!
//! One process at a time opens a data directory (`serve`, `ingest`, `reindex`, `search`, ...):
//! each holds an exclusive lock on `DIR/gridkb.lock` for as long as its engine lives, so
//! `reindex` cannot delete a projection under a running server and two writers never race on the
//! store's projections. The lock is the operating system's (released when the process dies, even
//! by `kill -9`), so a stale lock file never blocks a restart.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// Where each file of one data directory lives. The names are an on-disk format: renaming one
/// strands the files of every existing data directory (and backup).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLayout {
    root: PathBuf,
}

impl DataLayout {
    /// The record store (redb; under PostgreSQL, the local replica). Also the name of the store
    /// inside a backup directory.
    pub const STORE_FILE: &str = "records.redb";
    /// The API keys (hashes only; `server::keys`). Also its name inside a backup directory and
    /// among the files PostgreSQL mirrors between nodes.
    pub const KEYS_FILE: &str = "keys.json";
    /// The lock a key change takes while it reads, changes and writes [`Self::KEYS_FILE`].
    pub const KEYS_LOCK_FILE: &str = "keys.lock";
    /// The lock of the whole directory ([`DataDirLock`]).
    pub const LOCK_FILE: &str = "gridkb.lock";
    /// The lexical index (tantivy): a projection.
    pub const LEXICAL_DIR: &str = "lexical";
    /// The vector index: a projection.
    pub const VECTORS_DIR: &str = "vectors";
    /// The embedding cache, keyed by (model id, text hash): not a projection (it is what makes
    /// re-embedding cheap), so `reindex` keeps it.
    pub const EMBEDDING_CACHE_FILE: &str = "embeddings.redb";
    /// The request log (`journal` crate): requests served, feedback, task states. Not a
    /// projection: it is not rebuilt from the store, and `reindex` leaves it alone.
    pub const JOURNAL_DIR: &str = "journal";
    /// Where the server writes a backup asked for over HTTP before the caller moves it away.
    pub const BACKUPS_DIR: &str = "backups";
    /// The address a running `serve` listens on.
    pub const SERVE_ADDR_FILE: &str = "serve.addr";
    /// The fusion `gridkb tune` chose for this knowledge base (JSON, as a request's `fusion`);
    /// absent until a tuning changed it.
    pub const FUSION_FILE: &str = "fusion.json";
    /// Past tickets with the categories they were filed under, the text masked (JSONL; see
    /// `category_model`): ticket matching learns its category model from them at every open.
    /// Absent until `gridkb learn-categories` or the first start's corpus ingest writes it.
    pub const TICKET_HISTORY_FILE: &str = "ticket_history.jsonl";
    /// Present while the first start's corpus ingest has not completed: written (durably) before
    /// it starts, removed after it ends. A start that finds it runs the ingest again — unchanged
    /// records are no-ops — so a kill during the first start never leaves a half-filled data
    /// directory that says ready.
    pub const FIRST_START_MARKER: &str = "first-start-ingest.pending";
    /// The projections: disposable, rebuilt from the store when missing.
    pub const PROJECTION_DIRS: [&str; 2] = [Self::LEXICAL_DIR, Self::VECTORS_DIR];

    pub fn new(root: impl Into<PathBuf>) -> DataLayout {
        DataLayout { root: root.into() }
    }

    /// The data directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn store_file(&self) -> PathBuf {
        self.root.join(Self::STORE_FILE)
    }

    pub fn keys_file(&self) -> PathBuf {
        self.root.join(Self::KEYS_FILE)
    }

    pub fn keys_lock_file(&self) -> PathBuf {
        self.root.join(Self::KEYS_LOCK_FILE)
    }

    pub fn lock_file(&self) -> PathBuf {
        self.root.join(Self::LOCK_FILE)
    }

    pub fn lexical_dir(&self) -> PathBuf {
        self.root.join(Self::LEXICAL_DIR)
    }

    pub fn vectors_dir(&self) -> PathBuf {
        self.root.join(Self::VECTORS_DIR)
    }

    pub fn embedding_cache_file(&self) -> PathBuf {
        self.root.join(Self::EMBEDDING_CACHE_FILE)
    }

    pub fn journal_dir(&self) -> PathBuf {
        self.root.join(Self::JOURNAL_DIR)
    }

    /// The directory of the backup named `name` written by the server (`POST /v1/backup`).
    pub fn server_backup_dir(&self, name: &str) -> PathBuf {
        self.root.join(Self::BACKUPS_DIR).join(name)
    }

    pub fn serve_addr_file(&self) -> PathBuf {
        self.root.join(Self::SERVE_ADDR_FILE)
    }

    pub fn fusion_file(&self) -> PathBuf {
        self.root.join(Self::FUSION_FILE)
    }

    pub fn ticket_history_file(&self) -> PathBuf {
        self.root.join(Self::TICKET_HISTORY_FILE)
    }

    pub fn first_start_marker(&self) -> PathBuf {
        self.root.join(Self::FIRST_START_MARKER)
    }

    /// The projections' directories ([`Self::PROJECTION_DIRS`]).
    pub fn projection_dirs(&self) -> [PathBuf; 2] {
        Self::PROJECTION_DIRS.map(|name| self.root.join(name))
    }
}

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
        let path = DataLayout::new(dir).lock_file();
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

    pub fn layout(&self) -> DataLayout {
        DataLayout::new(&self.dir)
    }

    /// Whether the projections were deleted on purpose under this lock (by `reindex`).
    pub fn projections_removed(&self) -> bool {
        self.projections_removed
    }

    /// Deletes the projections (lexical index, vector index) so that the next open rebuilds them
    /// from the store; the store, the keys and the embedding cache are kept. Needs the lock.
    pub fn remove_projections(&mut self) -> Result<()> {
        self.projections_removed = true;
        for path in DataLayout::new(&self.dir).projection_dirs() {
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
    let Ok(file) = OpenOptions::new().read(true).write(true).open(DataLayout::new(dir).lock_file()) else {
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

    /// The names are an on-disk format: this list changes only with a migration.
    #[test]
    fn every_file_has_its_own_name_inside_the_directory() {
        let layout = DataLayout::new("/srv/gridkb");
        let paths = [
            (layout.store_file(), "records.redb"),
            (layout.keys_file(), "keys.json"),
            (layout.keys_lock_file(), "keys.lock"),
            (layout.lock_file(), "gridkb.lock"),
            (layout.lexical_dir(), "lexical"),
            (layout.vectors_dir(), "vectors"),
            (layout.embedding_cache_file(), "embeddings.redb"),
            (layout.journal_dir(), "journal"),
            (layout.serve_addr_file(), "serve.addr"),
            (layout.first_start_marker(), "first-start-ingest.pending"),
            (layout.server_backup_dir("b1"), "backups/b1"),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for (path, name) in &paths {
            assert_eq!(path, &Path::new("/srv/gridkb").join(name));
            assert!(seen.insert(path.clone()), "{name} named twice");
        }
        assert_eq!(layout.projection_dirs(), [layout.lexical_dir(), layout.vectors_dir()]);
        assert_eq!(layout.root(), Path::new("/srv/gridkb"));
    }

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
        assert_eq!(mode(&DataLayout::new(&data).lock_file()), 0o600);
    }
}
