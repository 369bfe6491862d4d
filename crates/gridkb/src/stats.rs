//! `gridkb stats`: what a data directory holds, as a table for people or JSON.

use std::io::Write;

use search::KnowledgeStats;

/// Prints the counts as aligned sections of `name  count` lines.
pub fn print(stats: &KnowledgeStats, out: &mut dyn Write) -> std::io::Result<()> {
    let row = |out: &mut dyn Write, name: &str, value: String| writeln!(out, "  {name:<28} {value:>12}");
    let section = |out: &mut dyn Write, title: &str, counts: &std::collections::BTreeMap<String, u64>| {
        writeln!(out, "{title}")?;
        let mut sorted: Vec<(&String, &u64)> = counts.iter().collect();
        sorted.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (name, count) in sorted {
            row(out, name, count.to_string())?;
        }
        Ok::<(), std::io::Error>(())
    };
    writeln!(out, "items {}", stats.items.total)?;
    section(out, "items by kind", &stats.items.by_kind)?;
    section(out, "items by status", &stats.items.by_status)?;
    section(out, "items by category", &stats.items.by_category)?;
    section(out, "items by product line", &stats.items.by_product_line)?;
    writeln!(out, "entities {}", stats.entities.total)?;
    section(out, "entities by class", &stats.entities.by_class)?;
    writeln!(out, "totals")?;
    row(out, "labelled tickets", stats.tickets.to_string())?;
    row(out, "triples", stats.triples.map_or("-".into(), |t| t.to_string()))?;
    row(out, "vector documents", stats.vectors.as_ref().map_or("-".into(), |v| v.documents.to_string()))?;
    row(out, "vectors", stats.vectors.as_ref().map_or("-".into(), |v| v.vectors.to_string()))?;
    row(out, "distinct-text ratio", format!("{:.3}", stats.distinct_text_ratio))?;
    writeln!(out, "sequence numbers")?;
    row(out, "store (last)", stats.seq.store.to_string())?;
    row(out, "lexical index", stats.seq.lexical.to_string())?;
    row(out, "graph", stats.seq.graph.map_or("-".into(), |s| s.to_string()))?;
    row(out, "vector index", stats.seq.vectors.map_or("-".into(), |s| s.to_string()))?;
    writeln!(out, "disk")?;
    for (name, bytes) in &stats.disk.entries {
        row(out, name, human_bytes(*bytes))?;
    }
    row(out, "total", human_bytes(stats.disk.total_bytes))?;
    Ok(())
}

fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for u in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = u;
    }
    format!("{value:.1} {unit}")
}
