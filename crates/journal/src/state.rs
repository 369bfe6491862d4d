//! The journal's events in memory, rebuilt from the segments at open and kept current by every
//! record: the recent requests (by id, for feedback), the latest verdict per (request, item,
//! key), and each task's latest status.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use crate::event::{Event, FeedbackEvent, RequestEvent, TaskEvent};

/// Feedback is one verdict per request, item (empty for the request as a whole) and key (empty
/// without keys): a later verdict replaces an earlier one.
pub type FeedbackKey = (String, String, String);

#[derive(Debug, Default)]
pub struct State {
    requests: VecDeque<Arc<RequestEvent>>,
    by_id: HashMap<String, Arc<RequestEvent>>,
    feedback: BTreeMap<FeedbackKey, FeedbackEvent>,
    tasks: HashMap<String, TaskEvent>,
}

pub(crate) fn feedback_key(event: &FeedbackEvent) -> FeedbackKey {
    (event.request_id.clone(), event.item_id.clone().unwrap_or_default(), event.key.clone().unwrap_or_default())
}

impl State {
    pub(crate) fn apply(&mut self, event: Event) {
        match event {
            Event::Request(request) => {
                let request: Arc<RequestEvent> = Arc::from(request);
                self.by_id.insert(request.id.clone(), Arc::clone(&request));
                self.requests.push_back(request);
            }
            Event::Feedback(feedback) => {
                self.feedback.insert(feedback_key(&feedback), feedback);
            }
            Event::Task(task) => {
                self.tasks.insert(task.task_id.clone(), task);
            }
        }
    }

    /// Forgets requests and feedback from before `cutoff_ms` (their segments were deleted or
    /// are past retention). Task statuses are kept: a dismissed task stays dismissed.
    pub(crate) fn prune_before(&mut self, cutoff_ms: i64) {
        while self.requests.front().is_some_and(|r| r.at_ms < cutoff_ms) {
            if let Some(old) = self.requests.pop_front() {
                self.by_id.remove(&old.id);
            }
        }
        self.feedback.retain(|_, f| f.at_ms >= cutoff_ms);
    }

    /// Recorded requests, oldest first.
    pub fn requests(&self) -> impl Iterator<Item = &RequestEvent> {
        self.requests.iter().map(|r| r.as_ref())
    }

    pub fn request(&self, id: &str) -> Option<&RequestEvent> {
        self.by_id.get(id).map(|r| r.as_ref())
    }

    /// The latest verdict per (request, item, key).
    pub fn feedback(&self) -> impl Iterator<Item = &FeedbackEvent> {
        self.feedback.values()
    }

    pub(crate) fn feedback_for(&self, key: &FeedbackKey) -> Option<&FeedbackEvent> {
        self.feedback.get(key)
    }

    /// The latest status set on a task, if any was.
    pub fn task(&self, id: &str) -> Option<&TaskEvent> {
        self.tasks.get(id)
    }

    pub fn request_count(&self) -> usize {
        self.requests.len()
    }
}

impl State {
    /// Every task's latest status.
    pub fn tasks(&self) -> impl Iterator<Item = &TaskEvent> {
        self.tasks.values()
    }
}

/// A copy of the events in memory at one moment, for reports: taken in a short read lock, so
/// that a long report never holds up the requests being recorded.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    requests: Vec<Arc<RequestEvent>>,
    /// Request id → index into `requests`.
    by_id: HashMap<String, usize>,
    feedback: Vec<FeedbackEvent>,
    tasks: HashMap<String, TaskEvent>,
}

impl Snapshot {
    /// Recorded requests, oldest first.
    pub fn requests(&self) -> impl Iterator<Item = &RequestEvent> {
        self.requests.iter().map(|r| r.as_ref())
    }

    /// The latest verdict per (request, item, key).
    pub fn feedback(&self) -> impl Iterator<Item = &FeedbackEvent> {
        self.feedback.iter()
    }

    /// The latest status set on a task, if any was.
    pub fn task(&self, id: &str) -> Option<&TaskEvent> {
        self.tasks.get(id)
    }
}

impl State {
    pub(crate) fn snapshot(&self) -> Snapshot {
        Snapshot {
            requests: self.requests.iter().cloned().collect(),
            by_id: self.requests.iter().enumerate().map(|(i, r)| (r.id.clone(), i)).collect(),
            feedback: self.feedback.values().cloned().collect(),
            tasks: self.tasks.clone(),
        }
    }
}

impl Snapshot {
    /// The analysed terms of a recorded request.
    pub fn request_terms(&self, id: &str) -> Option<&[String]> {
        self.by_id.get(id).map(|&i| self.requests[i].terms.as_slice())
    }
}
