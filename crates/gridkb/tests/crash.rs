//! The crash suite in the test run: `gridkb soak` kills a child `gridkb` at every named crash
//! point of the write paths (store commit, lexical commit, graph apply, ingest and import
//! batches, request log, key file, vector save, first start), 60 times in all, and after each
//! kill checks that the restart succeeds, nothing acknowledged is lost and the indexes agree
//! with the store. The long run is the same command with more rounds (`gridkb soak`).

use std::path::Path;
use std::process::Command;

fn gridkb(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_gridkb"))
        .args(args)
        .env_remove("GRIDKB_DATA")
        .env_remove("GRIDKB_CRASH_AT")
        .env("GRIDKB_LOG", "error")
        .output()
        .expect("run gridkb")
}

fn model() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/m3e-small");
    assert!(dir.join("config.json").is_file(), "the vector rounds need the model: run scripts/fetch-model.sh");
    dir.to_str().expect("utf-8 path").to_string()
}

#[test]
fn every_write_path_survives_being_killed_at_each_of_its_crash_points() {
    let dir = tempfile::tempdir().expect("tempdir");
    let work = dir.path().join("soak");
    let model = model();
    let output = gridkb(&[
        "soak",
        "--rounds",
        "60",
        "--seed",
        "7",
        "--json",
        "--work",
        work.to_str().unwrap(),
        "--model",
        &model,
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("soak JSON");
    assert_eq!(report["violations"], 0, "{stdout}");
    assert_eq!(report["rounds"], 60, "{stdout}");
    assert!(report["crashes"].as_u64().is_some_and(|c| c >= 50), "at least 50 kills at a crash point: {stdout}");
    let points = report["points"].as_array().expect("points");
    assert_eq!(points.len(), 10, "{stdout}");
    for point in points {
        let name = point["point"].as_str().expect("name");
        assert!(point.get("skipped").is_none(), "{name} was skipped: {point}");
        assert!(point["crashes"].as_u64().is_some_and(|c| c >= 1), "{name} never crashed: {point}");
        assert_eq!(point["violations"].as_array().map(Vec::len), Some(0), "{name}: {point}");
    }
    // The rounds that write through the API had writes acknowledged before the crash, and found
    // them again after it.
    for name in ["store.commit", "graph.apply", "import.batch", "keys.write"] {
        let point = points.iter().find(|p| p["point"] == name).expect("point");
        assert!(point["acknowledged"].as_u64().is_some_and(|a| a > 0), "{name}: {point}");
    }

    // What the soak left is what `gridkb check` reports on, as an operator would run it.
    let data = work.join("graph-apply");
    let checked = gridkb(&["check", "--no-dense", "--data", data.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&checked.stdout);
    assert!(checked.status.success(), "{text}\n{}", String::from_utf8_lossy(&checked.stderr));
    assert!(text.lines().any(|l| l.starts_with("lexical") && l.contains(" agrees ")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("graph") && l.contains(" agrees ")), "{text}");
}

#[test]
fn a_crash_point_is_named_or_refused() {
    let unknown = Command::new(env!("CARGO_BIN_EXE_gridkb"))
        .args(["stats", "--data", "nowhere"])
        .env("GRIDKB_CRASH_AT", "store.comit@2")
        .output()
        .expect("run gridkb");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no crash point \"store.comit\""), "{unknown:?}");
}
