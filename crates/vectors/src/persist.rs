//! gridkb's own on-disk format of a vector index directory:
//!
//! * `vectors.<checksum prefix>.bin` — magic `GKBVEC01`, dimension (u32 LE), vector count
//!   (u64 LE), then per live vector: id length (u32 LE), id (UTF-8), `dimension` f32 LE; the parts
//!   of one document follow each other in order.
//! * `manifest.json` — [`Manifest`]: format version, model id, dimension, count, applied
//!   sequence number, the data file's name, size and blake3, and the manifest's own blake3.
//!
//! Saving writes the data file under a new name (temp file, fsync, rename), fsyncs the
//! directory, then writes the manifest the same way — the rename of the manifest is the commit
//! point — then fsyncs the directory again and removes data files no manifest names. Files are
//! created 0600 on Unix. A crash at any point leaves the previous or the new
//! index, never a mixture.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, IndexParams, Result, VectorIndex, halfdot};

/// Bumped whenever the files change incompatibly.
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST_FILE: &str = "manifest.json";
const MAGIC: &[u8; 8] = b"GKBVEC01";
const DATA_PREFIX: &str = "vectors.";
const DATA_SUFFIX: &str = ".bin";

/// What `manifest.json` says about the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u32,
    pub model_id: String,
    pub dimension: usize,
    /// Documents.
    pub count: usize,
    /// Vectors (more than documents when documents have several parts).
    pub vectors: usize,
    pub applied_seq: u64,
    pub data_file: String,
    pub data_bytes: u64,
    pub data_blake3: String,
    /// blake3 of this manifest serialised with this field empty.
    #[serde(default)]
    pub manifest_blake3: String,
}

impl Manifest {
    fn checksum(&self) -> String {
        let mut m = self.clone();
        m.manifest_blake3 = String::new();
        let bytes = serde_json::to_vec(&m).expect("a manifest always serialises");
        blake3::hash(&bytes).to_hex().to_string()
    }

    /// Reads and checks `manifest.json` in `dir` (its own checksum and format version).
    pub fn read(dir: &Path) -> Result<Manifest> {
        let path = dir.join(MANIFEST_FILE);
        let bytes = fs::read(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        let corrupt = |reason: String| Error::Corrupt { path: path.clone(), reason };
        let m: Manifest = serde_json::from_slice(&bytes).map_err(|e| corrupt(format!("unreadable manifest: {e}")))?;
        if m.manifest_blake3 != m.checksum() {
            return Err(corrupt("the manifest does not match its checksum".into()));
        }
        if m.format_version != FORMAT_VERSION {
            return Err(Error::Format { dir: dir.to_owned(), found: m.format_version, expected: FORMAT_VERSION });
        }
        Ok(m)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_owned(), source }
}

/// Writes `bytes` to `dir/name` through a temporary file, fsync and rename.
fn write_atomically(
    dir: &Path,
    name: &str,
    write: impl FnOnce(&mut BufWriter<&File>) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = dir.join(format!(".{name}.tmp"));
    let target = dir.join(name);
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    // Vectors are derived from the knowledge base: readable by the service's user only.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options.open(&tmp).map_err(io(&tmp))?;
    let mut w = BufWriter::with_capacity(1 << 20, &file);
    write(&mut w).map_err(io(&tmp))?;
    w.flush().map_err(io(&tmp))?;
    drop(w);
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    fs::rename(&tmp, &target).map_err(io(&target))
}

fn sync_dir(dir: &Path) -> Result<()> {
    // Directories can be opened and fsynced on Unix; elsewhere this is best effort.
    match File::open(dir) {
        Ok(d) => d.sync_all().or_else(|e| if cfg!(unix) { Err(e) } else { Ok(()) }).map_err(io(dir)),
        Err(e) if cfg!(unix) => Err(io(dir)(e)),
        Err(_) => Ok(()),
    }
}

impl VectorIndex {
    /// Saves the live vectors to `dir` (created if needed), atomically replacing what was there.
    pub fn save(&self, dir: &Path) -> Result<Manifest> {
        fs::create_dir_all(dir).map_err(io(dir))?;
        let mut bytes = Vec::with_capacity(20 + self.live_slots * (self.dim * 4 + 24));
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(self.dim as u32).to_le_bytes());
        bytes.extend_from_slice(&(self.live_slots as u64).to_le_bytes());
        // Documents in slot order of their first part, each with its parts together.
        let mut docs: Vec<(&String, &Vec<usize>)> = self.by_id.iter().collect();
        docs.sort_by_key(|(_, slots)| slots[0]);
        for (id, slots) in docs {
            for &slot in slots {
                bytes.extend_from_slice(&(id.len() as u32).to_le_bytes());
                bytes.extend_from_slice(id.as_bytes());
                for x in self.slot(slot) {
                    bytes.extend_from_slice(&x.to_le_bytes());
                }
            }
        }
        let hash = blake3::hash(&bytes).to_hex().to_string();
        let data_file = format!("{DATA_PREFIX}{}{DATA_SUFFIX}", &hash[..16]);
        write_atomically(dir, &data_file, |w| w.write_all(&bytes))?;
        // The data file's name must be durable before a manifest names it: otherwise a crash
        // could leave a durable manifest pointing at a file the directory never recorded.
        sync_dir(dir)?;
        fail::fail_point!("vectors.save");
        let mut manifest = Manifest {
            format_version: FORMAT_VERSION,
            model_id: self.model_id.clone(),
            dimension: self.dim,
            count: self.len(),
            vectors: self.live_slots,
            applied_seq: self.applied_seq,
            data_file: data_file.clone(),
            data_bytes: bytes.len() as u64,
            data_blake3: hash,
            manifest_blake3: String::new(),
        };
        manifest.manifest_blake3 = manifest.checksum();
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest always serialises");
        write_atomically(dir, MANIFEST_FILE, |w| {
            w.write_all(&json)?;
            w.write_all(b"\n")
        })?;
        sync_dir(dir)?;
        // Old data files are garbage once the new manifest is durable.
        if let Ok(entries) = fs::read_dir(dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(DATA_PREFIX) && name.ends_with(DATA_SUFFIX) && name != data_file {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
        Ok(manifest)
    }

    /// Opens the index saved in `dir`, refusing it if it was built with another model or
    /// dimension (rebuild with `gridkb reindex`) or fails its checksums.
    pub fn open(dir: &Path, model_id: &str, dim: usize, params: IndexParams) -> Result<VectorIndex> {
        let m = Manifest::read(dir)?;
        if m.model_id != model_id {
            return Err(Error::ModelMismatch { dir: dir.to_owned(), found: m.model_id, expected: model_id.to_owned() });
        }
        if m.dimension != dim {
            return Err(Error::DimensionMismatch { dir: dir.to_owned(), found: m.dimension, expected: dim });
        }
        let path = dir.join(&m.data_file);
        if m.data_file.contains(['/', '\\']) || !m.data_file.starts_with(DATA_PREFIX) {
            return Err(Error::Corrupt { path: dir.join(MANIFEST_FILE), reason: "bad data file name".into() });
        }
        let bytes = fs::read(&path).map_err(io(&path))?;
        let corrupt = |reason: String| Error::Corrupt { path: path.clone(), reason };
        if bytes.len() as u64 != m.data_bytes || blake3::hash(&bytes).to_hex().as_str() != m.data_blake3 {
            return Err(corrupt("the data file does not match the manifest's checksum".into()));
        }
        let mut index = VectorIndex::new(model_id, dim, params)?;
        index.applied_seq = m.applied_seq;
        let mut r = Reader { bytes: &bytes, at: 0 };
        let header_ok = r.take(8).is_some_and(|b| b == MAGIC)
            && r.u32().is_some_and(|d| d as usize == dim)
            && r.u64().is_some_and(|n| n as usize == m.vectors);
        if !header_ok {
            return Err(corrupt("bad header".into()));
        }
        index.ids.reserve(m.vectors);
        index.data.reserve(m.vectors * dim);
        let mut previous: Option<String> = None;
        for _ in 0..m.vectors {
            let id_len = r.u32().ok_or_else(|| corrupt("truncated".into()))? as usize;
            let id = r
                .take(id_len)
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or_else(|| corrupt("truncated or non-UTF-8 id".into()))?
                .to_owned();
            let raw = r.take(dim * 4).ok_or_else(|| corrupt("truncated".into()))?;
            let slot = index.ids.len();
            index.data.extend(raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
            let parts = index.by_id.entry(id.clone()).or_default();
            if !parts.is_empty() && previous.as_deref() != Some(id.as_str()) {
                return Err(corrupt(format!("the parts of {id:?} are not together")));
            }
            parts.push(slot);
            index.max_parts = index.max_parts.max(parts.len());
            index.ids.push(id.clone());
            index.alive.push(true);
            previous = Some(id);
        }
        index.live_slots = index.ids.len();
        index.half = halfdot::halves(&index.data).collect();
        if r.at != bytes.len() || index.len() != m.count {
            return Err(corrupt("the data file does not hold what the manifest says".into()));
        }
        if index.live_slots > index.params.exact_threshold {
            index.build_graph();
        }
        Ok(index)
    }

    /// Whether `dir` holds a saved index (a manifest).
    pub fn exists(dir: &Path) -> bool {
        dir.join(MANIFEST_FILE).is_file()
    }

    /// The directory's data file path, for tests and tools.
    pub fn data_path(dir: &Path) -> Result<PathBuf> {
        Ok(dir.join(Manifest::read(dir)?.data_file))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }
}
