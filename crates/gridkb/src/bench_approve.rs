//! `gridkb bench approve`: how long an approved item takes to become searchable.
//!
//! Each round creates a draft (one author), submits it and approves it (another actor, as the
//! four-eyes rule wants), then searches for a word only that item holds. Approving returns after
//! the store commit and the lexical and graph catch-up, so "approve → searchable" is the time of
//! the approve call plus the first search that finds the item. The dense side catches up
//! separately (in the background under `serve`); its time is measured on its own. The bench
//! retires each item after measuring it, but the items and their versions stay in the store:
//! run it on a scratch copy of a data directory.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use search::{EditContext, EditRole, Engine, ItemInput, Retriever, SearchRequest, Transition};

use crate::latency::Latencies;

fn actor(name: &str) -> EditContext {
    EditContext {
        actor: store::Actor { key_id: None, name: name.to_string(), role: "admin".to_string(), org: None },
        role: EditRole::Admin,
        org: None,
    }
}

pub fn run(engine: &Engine, rounds: usize) -> anyhow::Result<()> {
    let (author, reviewer) = (actor("bench author"), actor("bench reviewer"));
    let nonce = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let (mut searchable, mut dense) = (Vec::new(), Vec::new());
    for round in 0..rounds.max(1) {
        let token = format!("gkbbench{nonce}x{round}");
        let input: ItemInput = serde_json::from_value(serde_json::json!({
            "id": format!("kb-bench-{nonce}-{round}"),
            "kind": "technical_point",
            "title": format!("审批后检索计时 {token}"),
            "body": format!("这是 gridkb bench approve 写入的条目，用来测量审批到可检索的时间。标记 {token}。"),
        }))
        .context("bench item")?;
        let id = engine.create_item(&author, input).context("create")?.item.id;
        engine.transition_item(&author, &id, Transition::Submit, None, None).context("submit")?;
        let started = Instant::now();
        engine.transition_item(&reviewer, &id, Transition::Approve, None, None).context("approve")?;
        let request =
            SearchRequest { q: token.clone(), retrievers: Some(vec![Retriever::Lexical]), ..SearchRequest::default() };
        let found = engine.search(&request)?.hits.iter().any(|h| h.id == id);
        let elapsed = started.elapsed();
        if !found {
            bail!("the approved item {id} was not found by its own word: the write path is broken");
        }
        searchable.push(elapsed);
        if engine.has_dense() {
            let started = Instant::now();
            engine.catch_up_vectors(&|_| {})?;
            dense.push(started.elapsed());
        }
        engine.transition_item(&reviewer, &id, Transition::Retire, None, None).context("retire")?;
    }
    println!("approve -> searchable (lexical + graph), {} rounds: {}", searchable.len(), Latencies::new(searchable));
    if dense.is_empty() {
        println!("dense catch-up: no model loaded");
    } else {
        println!("dense catch-up after approve (embedding the item): {}", Latencies::new(dense));
    }
    Ok(())
}
