//! The one way a projection follows the store.
//!
//! The lexical index, the graph, the vector index and the editors' catalogue are each a view of
//! the records that remembers the sequence number of the newest change it holds. [`catch_up`]
//! brings any of them up to the store: it reads the change log after that number in batches and
//! hands each batch over as the *current* state of every record it names, so applying a batch is
//! idempotent and a projection never sees an intermediate version it would have to undo. A
//! projection that has applied nothing, or claims more than the store has (a store restored from
//! an older backup), may rebuild itself from a snapshot instead ([`Projection::rebuild`]).
//!
//! Crash safety is the projection's: it stamps what it persists with the batch's sequence
//! number in the same commit, so that after a crash [`Projection::applied_seq`] names the last
//! batch that is really there and the next catch-up replays the rest.

use std::collections::BTreeSet;

use crate::{Error, Store, StoredRecord};

/// A view of the store's records that catches up from its change log.
pub trait Projection {
    /// The projection's own error; store failures convert into it.
    type Error: From<Error>;

    /// The store sequence number of the newest change this projection holds (0: none).
    fn applied_seq(&mut self) -> Result<u64, Self::Error>;

    /// Applies one batch. Afterwards [`Projection::applied_seq`] is `batch.seq`.
    fn apply(&mut self, batch: ChangeBatch) -> Result<(), Self::Error>;

    /// Called instead of replaying the log when the projection has applied nothing while the
    /// store has changes, or has applied more than the store holds: rebuild from the store's
    /// current records and stand at `seq`, and say `true`. The default says `false`: a new
    /// projection then replays the whole log, and one that is ahead is an error (a projection that
    /// can outlive its store must rebuild).
    fn rebuild(&mut self, store: &Store, seq: u64) -> Result<bool, Self::Error> {
        let _ = (store, seq);
        Ok(false)
    }
}

/// The records changed in one stretch of the change log.
#[derive(Debug, Clone)]
pub struct ChangeBatch {
    /// The newest change of the stretch: the projection stands here once the batch is applied.
    pub seq: u64,
    /// Every record changed in the stretch, once, in id order, with its current state (`None`:
    /// deleted). Current means read after the stretch, so possibly newer than `seq`.
    pub records: Vec<(String, Option<StoredRecord>)>,
}

impl ChangeBatch {
    /// The ids of the batch, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.records.iter().map(|(id, _)| id.as_str())
    }
}

/// Brings `projection` up to the store's sequence number as read at the start, `batch` changes
/// at a time (at least one), calling `progress(applied, target)` after each batch (a rebuild
/// reports its own progress).
/// Returns the target reached. Changes logged meanwhile are left to the next catch-up (every
/// write path runs one after its commit).
pub fn catch_up<P: Projection + ?Sized>(
    store: &Store,
    projection: &mut P,
    batch: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, P::Error> {
    let target = store.last_seq()?;
    let mut applied = projection.applied_seq()?;
    if applied == target {
        return Ok(target);
    }
    if applied == 0 || applied > target {
        if projection.rebuild(store, target)? {
            return Ok(target);
        }
        if applied > target {
            return Err(Error::Diverged(format!(
                "a projection stands at change {applied} but the store has only {target}, and it cannot rebuild"
            ))
            .into());
        }
    }
    while applied < target {
        let changes = store.changes_since(applied, batch.max(1))?;
        let Some(newest) = changes.last().map(|c| c.seq) else { break };
        let ids: BTreeSet<String> = changes.into_iter().map(|c| c.id).collect();
        let current = store.get_many(ids.iter().map(String::as_str))?;
        projection.apply(ChangeBatch { seq: newest, records: ids.into_iter().zip(current).collect() })?;
        applied = newest;
        progress(applied, target);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::Record;

    /// A projection that keeps id → version, as every real one does in its own way.
    #[derive(Default)]
    struct Versions {
        applied: u64,
        held: BTreeMap<String, u32>,
        batches: Vec<usize>,
        rebuilds: usize,
        rebuild_from_snapshot: bool,
    }

    impl Projection for Versions {
        type Error = Error;

        fn applied_seq(&mut self) -> Result<u64, Error> {
            Ok(self.applied)
        }

        fn apply(&mut self, batch: ChangeBatch) -> Result<(), Error> {
            self.batches.push(batch.records.len());
            for (id, stored) in batch.records {
                match stored {
                    Some(stored) => self.held.insert(id, stored.record.version()),
                    None => self.held.remove(&id),
                };
            }
            self.applied = batch.seq;
            Ok(())
        }

        fn rebuild(&mut self, store: &Store, seq: u64) -> Result<bool, Error> {
            if !self.rebuild_from_snapshot {
                return Ok(false);
            }
            self.rebuilds += 1;
            self.held.clear();
            store.for_each(|stored| {
                self.held.insert(stored.record.id().to_string(), stored.record.version());
                Ok(())
            })?;
            self.applied = seq;
            Ok(true)
        }
    }

    fn item(id: &str, version: u32) -> Record {
        let json =
            format!(r#"{{"id":"{id}","kind":"technical_point","title":"CT断线","body":"检查","version":{version}}}"#);
        serde_json::from_str(&json).expect("an item")
    }

    fn truth(store: &Store) -> BTreeMap<String, u32> {
        let mut held = BTreeMap::new();
        store
            .for_each(|stored| {
                held.insert(stored.record.id().to_string(), stored.record.version());
                Ok(())
            })
            .expect("scan");
        held
    }

    #[test]
    fn replays_the_log_in_batches_of_distinct_ids_with_their_current_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("records.redb")).expect("store");
        let mut view = Versions::default();
        assert_eq!(catch_up(&store, &mut view, 2, &mut |_, _| {}).expect("nothing to do"), 0);
        for (id, version) in [("a", 1), ("b", 1), ("a", 2), ("c", 1), ("a", 3)] {
            store.upsert(&[item(id, version)], "test").expect("write");
        }
        let mut seen = Vec::new();
        let reached =
            catch_up(&store, &mut view, 2, &mut |applied, target| seen.push((applied, target))).expect("catch up");
        assert_eq!(reached, 5);
        assert_eq!(view.held, truth(&store));
        assert_eq!(view.held["a"], 3, "a batch carries the current version, not the logged one");
        assert_eq!(view.batches, [2, 2, 1]);
        assert_eq!(seen, [(2, 5), (4, 5), (5, 5)]);

        store.delete(&["b"], "test").expect("delete");
        catch_up(&store, &mut view, 100, &mut |_, _| {}).expect("catch up");
        assert_eq!(view.held, truth(&store));
        assert_eq!(view.applied, 6);
    }

    #[test]
    fn a_new_or_ahead_projection_rebuilds_when_it_can_and_replays_when_it_cannot() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("records.redb")).expect("store");
        for (id, version) in [("a", 1), ("b", 1), ("a", 2)] {
            store.upsert(&[item(id, version)], "test").expect("write");
        }
        let mut fresh = Versions { rebuild_from_snapshot: true, ..Versions::default() };
        catch_up(&store, &mut fresh, 1, &mut |_, _| {}).expect("catch up");
        assert_eq!((fresh.rebuilds, fresh.batches.len(), fresh.applied), (1, 0, 3));
        assert_eq!(fresh.held, truth(&store));

        let mut replayed = Versions::default();
        catch_up(&store, &mut replayed, 1, &mut |_, _| {}).expect("catch up");
        assert_eq!((replayed.rebuilds, replayed.batches.len()), (0, 3), "no snapshot: the whole log");
        assert_eq!(replayed.held, truth(&store));

        // Ahead of the store (a store restored from an older backup): nothing it holds is trusted.
        let held = BTreeMap::from([("z".to_string(), 1)]);
        let mut ahead = Versions { applied: 9, held: held.clone(), rebuild_from_snapshot: true, ..Versions::default() };
        catch_up(&store, &mut ahead, 1, &mut |_, _| {}).expect("catch up");
        assert_eq!((ahead.applied, ahead.rebuilds), (3, 1));
        assert_eq!(ahead.held, truth(&store));
        let mut stuck = Versions { applied: 9, held, ..Versions::default() };
        let refused = catch_up(&store, &mut stuck, 1, &mut |_, _| {}).expect_err("cannot rebuild");
        assert!(matches!(refused, Error::Diverged(_)), "{refused}");
    }
}
