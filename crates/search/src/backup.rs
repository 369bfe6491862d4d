//! Backups of a data directory's source of truth, and restoring one.
//!
//! A backup holds what cannot be rebuilt: the record store (`records.redb`: records, every
//! version, the change log, the audit), the API keys (`keys.json`) and, when present, the
//! settings editors keep beside the store (`fusion.json` from `gridkb tune`, and
//! `ticket_history.jsonl`, the past tickets the service categories are learned from), with a manifest
//! (`backup.json`) naming each file's size and BLAKE3 hash and the store's sequence number. The
//! projections (lexical index, vectors, graph) are not in it: the first start after a restore
//! rebuilds them from the store (the vectors from scratch, since the embedding cache is not kept
//! either — it is disposable and large).
//!
//! Consistency: the store file is copied while the engine's write lock is held, so no commit can
//! land in the middle of the copy (redb writes the file only when a transaction commits; readers
//! change nothing); the copy is then opened as a store and must show the same sequence number.
//! A running server makes its backup itself (`POST /v1/backup`), since it holds the data
//! directory's lock; with no server running, `gridkb backup` takes the lock and copies.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use store::Store;

use crate::data_dir::{DataDirLock, DataLayout};
use crate::{Engine, Error, Result};

/// The manifest inside a backup directory.
pub const BACKUP_MANIFEST: &str = "backup.json";
/// Version of the manifest's format written now: 2 may name the editors' settings
/// ([`SETTINGS_FILES`]), 1 named only the store and the keys.
pub const BACKUP_FORMAT: u32 = 2;
/// The oldest manifest format this gridkb restores.
const OLDEST_FORMAT: u32 = 1;

/// Files beside the store that no rebuild brings back, kept in a backup when present.
const SETTINGS_FILES: [&str; 2] = [DataLayout::FUSION_FILE, DataLayout::TICKET_HISTORY_FILE];

/// One file of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupFile {
    pub name: String,
    pub bytes: u64,
    /// `blake3:` and the hex digest.
    pub hash: String,
}

/// The manifest of a backup (`backup.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BackupManifest {
    pub format: u32,
    /// The store's sequence number at the backup: every write up to it is in the backup.
    pub seq: u64,
    /// Records in the store.
    pub records: u64,
    pub files: Vec<BackupFile>,
}

fn fail(path: &Path, message: impl std::fmt::Display) -> Error {
    Error::DataDir { path: path.display().to_string(), message: message.to_string() }
}

impl Engine {
    /// Writes a consistent backup of this engine's data directory into `dest`, a directory
    /// that must not exist yet. Writes wait while the store file is copied (about a second per
    /// few hundred MB); searches go on.
    pub fn backup_to(&self, dest: &Path) -> Result<BackupManifest> {
        let _writes_wait = self.write_lock()?;
        let seq = self.store().last_seq()?;
        write_backup(self.data_dir(), dest, seq)
    }
}

/// Backs up a data directory no process is using: takes its lock (refused while a server runs;
/// ask the server then, `POST /v1/backup`) and copies.
pub fn backup_offline(data: &Path, dest: &Path) -> Result<BackupManifest> {
    if !DataLayout::new(data).store_file().is_file() {
        return Err(fail(data, "no knowledge base here (no records.redb)"));
    }
    let _lock = DataDirLock::acquire(data)?;
    let (seq, _) = store_summary(&DataLayout::new(data).store_file())?;
    write_backup(data, dest, seq)
}

/// Copies the store and the keys of `data` into the new directory `dest` (nothing may write the
/// store meanwhile), checks that the copy shows `seq`, and writes the manifest last (a backup
/// without a manifest is incomplete).
fn write_backup(data: &Path, dest: &Path, expected_seq: u64) -> Result<BackupManifest> {
    if dest.exists() {
        return Err(fail(dest, "already exists; a backup goes into a new directory"));
    }
    create_private_dir(dest)?;
    // A backup keeps each file under its name in a data directory, so a restore copies name to name.
    let (from, to) = (DataLayout::new(data), DataLayout::new(dest));
    let mut files = vec![copy_synced(&from.store_file(), &to.store_file())?];
    if from.keys_file().is_file() {
        files.push(copy_synced(&from.keys_file(), &to.keys_file())?);
    }
    // Written by temp file and rename, so a copy reads one whole version even while an editor
    // saves a new one.
    for name in SETTINGS_FILES {
        if data.join(name).is_file() {
            files.push(copy_synced(&data.join(name), &dest.join(name))?);
        }
    }
    // The copy must open as a store showing what the original showed.
    let (seq, records) = store_summary(&to.store_file())?;
    if seq != expected_seq {
        return Err(fail(dest, "the copy does not match the store (it changed during the copy)"));
    }
    // Opening the copy may have rewritten its header: hash what is there now.
    files[0] = describe(&to.store_file(), DataLayout::STORE_FILE)?;
    let manifest = BackupManifest { format: BACKUP_FORMAT, seq, records, files };
    write_manifest(dest, &manifest)?;
    Ok(manifest)
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    pub seq: u64,
    pub records: u64,
    pub keys: bool,
}

/// Checks a backup against its manifest (every file's size and hash, the store's sequence
/// number) without changing anything.
pub fn verify_backup(backup: &Path) -> Result<BackupManifest> {
    let path = backup.join(BACKUP_MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(|e| fail(&path, format!("not a complete backup: {e}")))?;
    let manifest: BackupManifest =
        serde_json::from_str(&text).map_err(|e| fail(&path, format!("not a backup manifest: {e}")))?;
    if !(OLDEST_FORMAT..=BACKUP_FORMAT).contains(&manifest.format) {
        return Err(fail(
            &path,
            format!(
                "backup format {} is not supported (this gridkb reads formats {OLDEST_FORMAT} to {BACKUP_FORMAT})",
                manifest.format
            ),
        ));
    }
    if !manifest.files.iter().any(|f| f.name == DataLayout::STORE_FILE) {
        return Err(fail(&path, "the manifest names no records.redb"));
    }
    for file in &manifest.files {
        let known = file.name == DataLayout::STORE_FILE
            || file.name == DataLayout::KEYS_FILE
            || SETTINGS_FILES.contains(&file.name.as_str());
        if !known {
            return Err(fail(&path, "the manifest names a file that is not part of a backup"));
        }
        let found = describe(&backup.join(&file.name), &file.name)?;
        if found != *file {
            return Err(fail(
                &backup.join(&file.name),
                "does not match the manifest (damaged or altered); use another backup",
            ));
        }
    }
    Ok(manifest)
}

/// Restores a backup into `data`, which must hold no store yet (a new directory, or one moved
/// aside first). The next start rebuilds every projection from the restored store.
pub fn restore(backup: &Path, data: &Path) -> Result<RestoreReport> {
    let manifest = verify_backup(backup)?;
    let lock = DataDirLock::acquire(data)?;
    if DataLayout::new(data).store_file().exists() {
        return Err(fail(
            data,
            "already holds a knowledge base; restore into a new directory (or move this one aside)",
        ));
    }
    let mut keys = false;
    for file in &manifest.files {
        let target = data.join(&file.name);
        let temporary = data.join(format!("{}.restoring", file.name));
        copy_synced(&backup.join(&file.name), &temporary)?;
        std::fs::rename(&temporary, &target).map_err(|e| fail(&target, e))?;
        keys |= file.name == DataLayout::KEYS_FILE;
    }
    sync_dir(data)?;
    let (seq, records) = store_summary(&DataLayout::new(data).store_file())?;
    if seq != manifest.seq {
        return Err(fail(data, "the restored store does not show the backup's sequence number"));
    }
    drop(lock);
    Ok(RestoreReport { seq, records, keys })
}

fn store_summary(path: &Path) -> Result<(u64, u64)> {
    let store = Store::open(path)?;
    Ok((store.last_seq()?, store.len()?))
}

/// Copies a file, fsyncs the copy, and describes it.
fn copy_synced(from: &Path, to: &Path) -> Result<BackupFile> {
    std::fs::copy(from, to).map_err(|e| fail(from, format!("cannot copy to {}: {e}", to.display())))?;
    File::open(to).and_then(|f| f.sync_all()).map_err(|e| fail(to, e))?;
    let name = from.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
    describe(to, &name)
}

fn describe(path: &Path, name: &str) -> Result<BackupFile> {
    let mut hasher = blake3::Hasher::new();
    let mut file = File::open(path).map_err(|e| fail(path, e))?;
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(|e| fail(path, e))?;
    Ok(BackupFile { name: name.to_string(), bytes, hash: format!("blake3:{}", hasher.finalize().to_hex()) })
}

fn write_manifest(dest: &Path, manifest: &BackupManifest) -> Result<()> {
    let path = dest.join(BACKUP_MANIFEST);
    let temporary = dest.join(format!("{BACKUP_MANIFEST}.tmp"));
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| fail(&path, e))?;
    let mut file = File::create(&temporary).map_err(|e| fail(&temporary, e))?;
    file.write_all(&text).and_then(|()| file.sync_all()).map_err(|e| fail(&temporary, e))?;
    std::fs::rename(&temporary, &path).map_err(|e| fail(&path, e))?;
    sync_dir(dest)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| fail(dir, e))
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| fail(dir, e))
}
