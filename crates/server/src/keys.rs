//! API keys: the key file of a data directory (`DIR/keys.json`) and the server's view of it.
//!
//! A key is shown once, when it is created, as `gkb_<id>_<secret>`: `id` is short and public
//! (`k_` and 8 hex digits, used to find the key without scanning and to name it in `keys list`
//! and `keys revoke`), `secret` is 32 bytes from the operating system's random source in hex.
//! The file holds each key's id, role, creation date, optional note, revoked flag and a blake3
//! hash of the whole key — never the key itself. With 256 random bits a fast hash is enough (no
//! password stretching is needed); hashes are compared in constant time.
//!
//! The file is written to a temporary name, fsynced and renamed over the old one (then the
//! directory is fsynced); it carries a format version and a checksum of its key list.
//! Read-modify-write (`create`, `revoke`) holds an exclusive lock on `DIR/keys.lock`, so two
//! commands at once cannot lose a key.
//!
//! [`KeyStore`] is the running server's copy: loaded at start, and re-read when the file changes
//! (its size, modification time or inode), looked at no more than once per [`RELOAD_INTERVAL`],
//! so `gridkb keys create` and `gridkb keys revoke` take effect without a restart.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use search::Limits;
use serde::{Deserialize, Serialize};

use crate::auth::Role;

/// The `format` field of every key file.
pub const FORMAT: &str = "gridkb-api-keys";
/// The version of the key file this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The running server looks at the key file at most this often.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(1);
/// Random bytes in a key's secret.
pub const SECRET_BYTES: usize = 32;
/// Random bytes in a key's public id.
const ID_BYTES: usize = 4;
/// Every key starts with this.
pub const KEY_PREFIX: &str = "gkb_";
// A key is as long as the search crate's limits say (`API_KEY_LEN`), so that a configured
// `max_api_key_bytes` can be checked against it there.
const _: () = assert!(KEY_PREFIX.len() + 2 + 2 * ID_BYTES + 1 + 2 * SECRET_BYTES == search::limits::API_KEY_LEN);
/// The blake3 derive-key context: the hash of a key is useless for anything else.
const HASH_CONTEXT: &str = "gridkb 2026-11 API key hash v1";

/// What can go wrong with the key file.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot {action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: io::Error },
    #[error(
        "{path} is not a valid gridkb key file ({reason}); restore it from a backup or move it away and create new keys"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("{path} has key-file format version {found}; this gridkb reads version {FORMAT_VERSION}")]
    Version { path: PathBuf, found: u32 },
    #[error("no API key with id `{id}` in {path}; `gridkb keys list` shows the ids")]
    UnknownId { id: String, path: PathBuf },
    #[error("the note is longer than {max} characters (the `max_key_note_chars` limit)")]
    NoteTooLong { max: usize },
    #[error("the organisation must be an id such as org-p01 (letters, digits, . _ : -)")]
    BadOrg,
    #[error("cannot draw random bytes from the operating system: {0}")]
    Random(String),
}

/// One key as the file keeps it: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub role: Role,
    /// The organisation (an `Organisation` entity id such as `org-p01`) whose items the key may
    /// edit or review, with everything below it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    /// `YYYY-MM-DD`, UTC.
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub revoked: bool,
    /// `YYYY-MM-DD` of the revocation, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_on: Option<String>,
    /// `blake3:` and the hex of the key's derived-key blake3 hash.
    pub hash: String,
}

/// The file as stored.
#[derive(Debug, Serialize, Deserialize)]
struct KeyFile {
    format: String,
    version: u32,
    /// blake3 hex of the compact JSON of `keys`.
    checksum: String,
    keys: Vec<KeyRecord>,
}

/// A key just created: its record and the key itself, which is never shown again.
pub struct NewKey {
    pub record: KeyRecord,
    /// The whole key, `gkb_<id>_<secret>`.
    pub key: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey").field("record", &self.record).field("key", &"<secret>").finish()
    }
}

/// What `revoke` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    Now,
    Already,
}

/// `DIR/keys.json` ([`search::DataLayout::keys_file`]).
pub fn keys_path(data_dir: &Path) -> PathBuf {
    search::DataLayout::new(data_dir).keys_file()
}

/// The keys of a data directory; none when the file does not exist.
pub fn list(data_dir: &Path) -> Result<Vec<KeyRecord>, KeyError> {
    read_file(&keys_path(data_dir))
}

/// Creates a key of `role` (belonging to `org`, when given), stores its hash and returns it (the
/// only time it is seen). The note is held to `limits.max_key_note_chars`.
pub fn create(
    data_dir: &Path,
    role: Role,
    org: Option<&str>,
    note: Option<&str>,
    limits: &Limits,
) -> Result<NewKey, KeyError> {
    let note = note.map(str::trim).filter(|n| !n.is_empty()).map(str::to_string);
    let max = limits.max_key_note_chars;
    if note.as_ref().is_some_and(|n| n.chars().count() > max) {
        return Err(KeyError::NoteTooLong { max });
    }
    let org = org.map(str::trim).filter(|o| !o.is_empty()).map(str::to_string);
    if org.as_ref().is_some_and(|o| store::record::validate_id("org", o).is_err()) {
        return Err(KeyError::BadOrg);
    }
    fs::create_dir_all(data_dir).map_err(|source| KeyError::Io {
        action: "create the data directory",
        path: data_dir.to_path_buf(),
        source,
    })?;
    let _lock = lock(data_dir)?;
    let path = keys_path(data_dir);
    let mut keys = read_file(&path)?;
    let id = loop {
        let id = format!("k_{}", hex(&random::<ID_BYTES>()?));
        if !keys.iter().any(|k| k.id == id) {
            break id;
        }
    };
    let key = format!("{KEY_PREFIX}{id}_{}", hex(&random::<SECRET_BYTES>()?));
    let record = KeyRecord {
        id,
        role,
        org,
        created: today(),
        note,
        revoked: false,
        revoked_on: None,
        hash: format!("blake3:{}", hex(&hash_key(&key))),
    };
    keys.push(record.clone());
    write_file(&path, &keys)?;
    Ok(NewKey { record, key })
}

/// Marks the key `id` revoked; from the next reload on, it opens nothing.
pub fn revoke(data_dir: &Path, id: &str) -> Result<Revoked, KeyError> {
    let path = keys_path(data_dir);
    if !path.exists() {
        return Err(KeyError::UnknownId { id: id.to_string(), path });
    }
    let _lock = lock(data_dir)?;
    let mut keys = read_file(&path)?;
    let record = keys
        .iter_mut()
        .find(|k| k.id == id)
        .ok_or_else(|| KeyError::UnknownId { id: id.to_string(), path: path.clone() })?;
    if record.revoked {
        return Ok(Revoked::Already);
    }
    record.revoked = true;
    record.revoked_on = Some(today());
    write_file(&path, &keys)?;
    Ok(Revoked::Now)
}

/// The keys a server accepts, as of one reading of the file.
#[derive(Default)]
pub struct KeySet {
    keys: HashMap<String, Entry>,
}

struct Entry {
    role: Role,
    org: Option<String>,
    note: Option<String>,
    revoked: bool,
    hash: [u8; 32],
}

/// What a verified key is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo<'a> {
    pub id: &'a str,
    pub role: Role,
    pub org: Option<&'a str>,
    pub note: Option<&'a str>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet").field("keys", &self.keys.len()).field("active", &self.active()).finish()
    }
}

impl KeySet {
    fn from_records(path: &Path, records: &[KeyRecord]) -> Result<KeySet, KeyError> {
        let mut keys = HashMap::with_capacity(records.len());
        for record in records {
            let hash = record
                .hash
                .strip_prefix("blake3:")
                .and_then(parse_hash)
                .ok_or_else(|| corrupt(path, format!("key `{}` has a malformed hash", record.id)))?;
            let entry = Entry {
                role: record.role,
                org: record.org.clone(),
                note: record.note.clone(),
                revoked: record.revoked,
                hash,
            };
            if keys.insert(record.id.clone(), entry).is_some() {
                return Err(corrupt(path, format!("key id `{}` appears twice", record.id)));
            }
        }
        Ok(KeySet { keys })
    }

    /// True when no key was ever created (revoked keys count as keys).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Keys not revoked.
    pub fn active(&self) -> usize {
        self.keys.values().filter(|e| !e.revoked).count()
    }

    /// What `key` is when it is a known, unrevoked key. The hash is compared in constant time;
    /// a key of the wrong shape or an unknown id is refused all the same, and one longer than
    /// `limits.max_api_key_bytes` unread.
    pub fn verify(&self, key: &str, limits: &Limits) -> Option<KeyInfo<'_>> {
        if key.len() > limits.max_api_key_bytes {
            return None;
        }
        let computed = hash_key(key);
        let id = key.strip_prefix(KEY_PREFIX).and_then(|rest| rest.rsplit_once('_')).map(|(id, _)| id)?;
        let (id, entry) = self.keys.get_key_value(id)?;
        let matches = constant_time_eq::constant_time_eq(&computed, &entry.hash);
        (matches && !entry.revoked).then_some(KeyInfo {
            id: id.as_str(),
            role: entry.role,
            org: entry.org.as_deref(),
            note: entry.note.as_deref(),
        })
    }
}

/// The running server's copy of the key file, re-read when the file changes.
pub struct KeyStore {
    path: PathBuf,
    cache: RwLock<Cache>,
}

struct Cache {
    checked: Instant,
    seen: Option<Fingerprint>,
    /// The last reading; an error (an unreadable or corrupt file) refuses every key until fixed.
    keys: Result<Arc<KeySet>, Arc<str>>,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore").field("path", &self.path).finish_non_exhaustive()
    }
}

/// What tells one version of the key file from the next without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

fn fingerprint(path: &Path) -> io::Result<Option<Fingerprint>> {
    match fs::metadata(path) {
        Ok(meta) => {
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&meta);
            #[cfg(not(unix))]
            let inode = 0;
            Ok(Some(Fingerprint { len: meta.len(), modified: meta.modified().ok(), inode }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl KeyStore {
    /// Reads `DIR/keys.json` (none yet is an empty set); a corrupt file is an error.
    pub fn open(data_dir: &Path) -> Result<KeyStore, KeyError> {
        let path = keys_path(data_dir);
        let seen = fingerprint(&path).map_err(|source| KeyError::Io { action: "read", path: path.clone(), source })?;
        let records = read_file(&path)?;
        let keys = KeySet::from_records(&path, &records)?;
        Ok(KeyStore { path, cache: RwLock::new(Cache { checked: Instant::now(), seen, keys: Ok(Arc::new(keys)) }) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The keys as of the latest look at the file (at most [`RELOAD_INTERVAL`] old). An error
    /// says the file cannot be read or is corrupt: no key is accepted then.
    pub fn current(&self) -> Result<Arc<KeySet>, Arc<str>> {
        {
            let cache = self.cache.read().unwrap_or_else(PoisonError::into_inner);
            if cache.checked.elapsed() < RELOAD_INTERVAL {
                return cache.keys.clone();
            }
        }
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.checked.elapsed() < RELOAD_INTERVAL {
            return cache.keys.clone();
        }
        cache.checked = Instant::now();
        match fingerprint(&self.path) {
            Ok(seen) if seen == cache.seen => {}
            Ok(seen) => {
                let loaded = read_file(&self.path).and_then(|records| KeySet::from_records(&self.path, &records));
                cache.keys = match loaded {
                    Ok(keys) => {
                        tracing::info!(keys = keys.keys.len(), active = keys.active(), "API keys reloaded");
                        Ok(Arc::new(keys))
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot reload the API keys; refusing every key until the file is fixed");
                        Err(e.to_string().into())
                    }
                };
                cache.seen = seen;
            }
            Err(e) => {
                tracing::error!(error = %e, path = %self.path.display(), "cannot look at the API key file; refusing every key");
                cache.keys = Err(format!("cannot read {}: {e}", self.path.display()).into());
                cache.seen = None;
            }
        }
        cache.keys.clone()
    }
}

/// The derived-key blake3 hash of a whole key.
fn hash_key(key: &str) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(HASH_CONTEXT);
    hasher.update(key.as_bytes());
    *hasher.finalize().as_bytes()
}

fn random<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| KeyError::Random(e.to_string()))?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

fn parse_hash(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let high = (pair[0] as char).to_digit(16)?;
        let low = (pair[1] as char).to_digit(16)?;
        out[i] = u8::try_from(high * 16 + low).ok()?;
    }
    Some(out)
}

fn today() -> String {
    calendar::Date::today().to_string()
}

fn corrupt(path: &Path, reason: impl Into<String>) -> KeyError {
    KeyError::Corrupt { path: path.to_path_buf(), reason: reason.into() }
}

fn checksum(keys: &[KeyRecord]) -> Result<String, serde_json::Error> {
    Ok(blake3::hash(&serde_json::to_vec(keys)?).to_hex().to_string())
}

/// The records of a key file; an absent file holds none.
fn read_file(path: &Path) -> Result<Vec<KeyRecord>, KeyError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(KeyError::Io { action: "read", path: path.to_path_buf(), source }),
    };
    let header: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| corrupt(path, format!("not JSON: {e}")))?;
    if header.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(corrupt(path, format!("the `format` field is not \"{FORMAT}\"")));
    }
    match header.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(FORMAT_VERSION) => {}
        Some(v) => {
            return Err(KeyError::Version { path: path.to_path_buf(), found: u32::try_from(v).unwrap_or(u32::MAX) });
        }
        None => return Err(corrupt(path, "no `version` field")),
    }
    let file: KeyFile = serde_json::from_value(header).map_err(|e| corrupt(path, e.to_string()))?;
    let expected = checksum(&file.keys).map_err(|e| corrupt(path, e.to_string()))?;
    if file.checksum != expected {
        return Err(corrupt(path, "the checksum does not match the keys (was it edited by hand?)"));
    }
    KeySet::from_records(path, &file.keys)?;
    Ok(file.keys)
}

/// Writes the key file: temporary name, fsync, rename, fsync of the directory.
fn write_file(path: &Path, keys: &[KeyRecord]) -> Result<(), KeyError> {
    let io_error = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| KeyError::Io { action, path, source }
    };
    let file = KeyFile {
        format: FORMAT.to_string(),
        version: FORMAT_VERSION,
        checksum: checksum(keys).map_err(|e| corrupt(path, e.to_string()))?,
        keys: keys.to_vec(),
    };
    let mut bytes = serde_json::to_vec_pretty(&file).map_err(|e| corrupt(path, e.to_string()))?;
    bytes.push(b'\n');
    let temporary = path.with_extension("json.tmp");
    {
        let mut out = File::create(&temporary).map_err(io_error("create", &temporary))?;
        out.write_all(&bytes).map_err(io_error("write", &temporary))?;
        out.sync_all().map_err(io_error("fsync", &temporary))?;
    }
    fail::fail_point!("keys.write");
    fs::rename(&temporary, path).map_err(io_error("rename into place", path))?;
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        // Makes the rename durable; not every platform can open a directory, which is fine.
        if let Ok(handle) = File::open(dir) {
            handle.sync_all().map_err(io_error("fsync", dir))?;
        }
    }
    Ok(())
}

/// An exclusive lock on `DIR/keys.lock`, released when dropped.
fn lock(data_dir: &Path) -> Result<File, KeyError> {
    let path = search::DataLayout::new(data_dir).keys_lock_file();
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| KeyError::Io { action: "open", path: path.clone(), source })?;
    file.lock().map_err(|source| KeyError::Io { action: "lock", path, source })?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(dir: &Path) -> String {
        fs::read_to_string(keys_path(dir)).expect("key file")
    }

    #[test]
    fn create_list_verify_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(list(dir.path()).expect("no file yet").is_empty());
        let agent = create(dir.path(), Role::Agent, None, Some("  front desk "), &Limits::default()).expect("create");
        let editor = create(dir.path(), Role::Editor, None, None, &Limits::default()).expect("create");
        assert!(agent.key.starts_with(&format!("gkb_{}_", agent.record.id)));
        assert_eq!(agent.key.len(), KEY_PREFIX.len() + 2 + 2 * ID_BYTES + 1 + 2 * SECRET_BYTES);
        assert_ne!(agent.key, editor.key);

        let records = list(dir.path()).expect("list");
        assert_eq!(records, vec![agent.record.clone(), editor.record.clone()]);
        assert_eq!(records[0].note.as_deref(), Some("front desk"));
        assert_eq!(records[0].created.len(), "2026-11-26".len());

        let stored = text(dir.path());
        assert!(!stored.contains(&agent.key) && !stored.contains(&agent.key[agent.key.len() - 64..]));
        assert!(stored.contains("\"version\": 1"));

        let store = KeyStore::open(dir.path()).expect("open");
        let keys = store.current().expect("keys");
        assert_eq!(
            keys.verify(&agent.key, &Limits::default()).map(|k| (k.id, k.role)),
            Some((agent.record.id.as_str(), Role::Agent))
        );
        assert_eq!(
            keys.verify(&editor.key, &Limits::default()).map(|k| (k.id, k.role)),
            Some((editor.record.id.as_str(), Role::Editor))
        );
        assert_eq!(keys.active(), 2);
    }

    #[test]
    fn wrong_and_malformed_keys_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = create(dir.path(), Role::Bot, None, None, &Limits::default()).expect("create").key;
        let keys = KeyStore::open(dir.path()).expect("open").current().expect("keys");
        let mut flipped = key.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).expect("ascii");
        for bad in [&flipped, "", "gkb_", "gkb__", "Bearer x", "gkb_k_00000000_00", &"x".repeat(10_000)] {
            assert_eq!(keys.verify(bad, &Limits::default()), None, "{bad:.40}");
        }
        assert!(keys.verify(&key, &Limits::default()).is_some());
    }

    #[test]
    fn revoked_keys_open_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let new = create(dir.path(), Role::Admin, None, None, &Limits::default()).expect("create");
        assert_eq!(revoke(dir.path(), &new.record.id).expect("revoke"), Revoked::Now);
        assert_eq!(revoke(dir.path(), &new.record.id).expect("again"), Revoked::Already);
        let records = list(dir.path()).expect("list");
        assert!(records[0].revoked && records[0].revoked_on.is_some());
        let keys = KeyStore::open(dir.path()).expect("open").current().expect("keys");
        assert_eq!(keys.verify(&new.key, &Limits::default()), None);
        assert!(!keys.is_empty());
        assert_eq!(keys.active(), 0);
        let unknown = revoke(dir.path(), "k_nope").expect_err("unknown id");
        assert!(unknown.to_string().contains("no API key with id `k_nope`"), "{unknown}");
    }

    #[test]
    fn corrupt_files_are_clear_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        create(dir.path(), Role::Agent, None, None, &Limits::default()).expect("create");
        let good = text(dir.path());
        let cases = [
            ("truncated", good[..good.len() / 2].to_string(), "not JSON"),
            ("empty", String::new(), "not JSON"),
            ("foreign", r#"{"hello": 1}"#.to_string(), "format"),
            ("hand edit", good.replace("\"agent\"", "\"admin\""), "checksum"),
            ("future", good.replace("\"version\": 1", "\"version\": 7"), "version 7"),
        ];
        for (name, content, expected) in cases {
            fs::write(keys_path(dir.path()), &content).expect("write");
            let error = list(dir.path()).expect_err(name).to_string();
            assert!(error.contains(expected), "{name}: {error}");
            assert!(KeyStore::open(dir.path()).is_err(), "{name}");
            assert!(
                create(dir.path(), Role::Agent, None, None, &Limits::default()).is_err(),
                "{name}: no write over a corrupt file"
            );
        }
    }

    #[test]
    fn the_store_follows_the_file_and_fails_closed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = KeyStore::open(dir.path()).expect("open");
        assert!(store.current().expect("keys").is_empty());
        let new = create(dir.path(), Role::Agent, None, None, &Limits::default()).expect("create");
        wait_until(
            || store.current().is_ok_and(|keys| keys.verify(&new.key, &Limits::default()).is_some()),
            "the new key is seen",
        );
        fs::write(store.path(), b"{").expect("write");
        wait_until(|| store.current().is_err(), "a corrupt file accepts no key");
    }

    /// Polls `done` (the store re-reads its file every `RELOAD_INTERVAL`); only a store that
    /// never follows its file reaches the guard.
    fn wait_until(done: impl Fn() -> bool, what: &str) {
        let started = Instant::now();
        while !done() {
            assert!(started.elapsed() < Duration::from_secs(60), "{what}: not within a minute");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What a comparison's timing could leak is how long a prefix of the stored hash the
    /// presented key's hash shares — and that says nothing about the key: keys that share all
    /// but their last character with a real key have hashes sharing no more than chance.
    /// (The comparison is constant-time as well, `constant_time_eq`.)
    #[test]
    fn near_miss_keys_are_refused_and_their_hashes_share_no_prefix_with_the_real_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let new = create(dir.path(), Role::Agent, None, None, &Limits::default()).expect("create");
        let set = KeyStore::open(dir.path()).expect("open").current().expect("keys");
        let id = new.key.strip_prefix(KEY_PREFIX).and_then(|rest| rest.rsplit_once('_')).map(|(id, _)| id).expect("id");
        let stored = set.keys.get(id).expect("entry").hash;
        let (head, last) = new.key.split_at(new.key.len() - 1);
        let mut longest = 0;
        for c in "0123456789abcdef".chars().filter(|c| !last.starts_with(*c)) {
            let near = format!("{head}{c}");
            assert!(set.verify(&near, &Limits::default()).is_none(), "{near}");
            let shared = hash_key(&near).iter().zip(stored.iter()).take_while(|(a, b)| a == b).count();
            longest = longest.max(shared);
        }
        // 15 near misses: a shared prefix of 3 bytes or more has a chance of about 1 in a million.
        assert!(longest < 3, "a near-miss key's hash shares {longest} leading bytes with the real one");
        assert!(set.verify(&new.key, &Limits::default()).is_some());
    }

    #[test]
    fn concurrent_creates_lose_no_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| create(dir.path(), Role::Bot, None, None, &Limits::default()).expect("create").key)
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("thread")).collect()
        });
        let set = KeyStore::open(dir.path()).expect("open").current().expect("keys");
        assert_eq!(list(dir.path()).expect("list").len(), 8);
        assert!(keys.iter().all(|k| set.verify(k, &Limits::default()).is_some()));
    }

    #[test]
    fn notes_are_bounded_by_the_limit_and_secrets_never_debug_printed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let defaults = Limits::default();
        let long = "长".repeat(defaults.max_key_note_chars + 1);
        let refused = create(dir.path(), Role::Agent, None, Some(&long), &defaults).expect_err("too long");
        assert!(matches!(refused, KeyError::NoteTooLong { max: 200 }), "{refused}");
        // A lower limit refuses what the default takes, and says which bound.
        let short = Limits { max_key_note_chars: 10, ..Limits::default() };
        let note = "一线班组值班电话用的钥匙";
        assert!(create(dir.path(), Role::Agent, None, Some(note), &defaults).is_ok());
        let refused = create(dir.path(), Role::Agent, None, Some(note), &short).expect_err("past 10");
        assert!(refused.to_string().contains("longer than 10 characters"), "{refused}");
        let new = create(dir.path(), Role::Agent, None, None, &defaults).expect("create");
        assert!(!format!("{new:?}").contains(&new.key));
    }

    #[test]
    fn keys_longer_than_the_limit_are_refused_unread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let new = create(dir.path(), Role::Agent, None, None, &Limits::default()).expect("create");
        assert_eq!(new.key.len(), search::limits::API_KEY_LEN);
        let set = KeyStore::open(dir.path()).expect("open").current().expect("keys");
        let exact = Limits { max_api_key_bytes: new.key.len(), ..Limits::default() };
        assert!(set.verify(&new.key, &exact).is_some());
        // The bound is read: one byte less and the real key is not even hashed.
        let shorter = Limits { max_api_key_bytes: new.key.len() - 1, ..Limits::default() };
        assert!(set.verify(&new.key, &shorter).is_none());
    }
}
