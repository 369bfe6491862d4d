//! `gridkb keys` and the key check of `gridkb serve`, through the real binary.

use std::path::Path;
use std::process::Output;

mod common;
use common::gridkb as binary;

fn gridkb(args: &[&str], data: &Path) -> Output {
    binary().args(args).arg("--data").arg(data).output().expect("run gridkb")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn create_prints_the_key_last_list_never_shows_it_revoke_marks_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let created = gridkb(&["keys", "create", "--role", "agent", "--note", "desk 3"], dir.path());
    assert!(created.status.success(), "{}", text(&created.stderr));
    let stdout = text(&created.stdout);
    let key = stdout.split_whitespace().last().expect("a key").to_string();
    assert!(key.starts_with("gkb_k_") && key.len() > 64, "{stdout}");
    let id = key.strip_prefix("gkb_").and_then(|k| k.rsplit_once('_')).map(|(id, _)| id.to_string()).expect("id");

    let file = std::fs::read_to_string(dir.path().join("keys.json")).expect("key file");
    assert!(!file.contains(&key) && !file.contains(key.rsplit_once('_').map_or("", |(_, s)| s)));

    let listed = gridkb(&["keys", "list"], dir.path());
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let listing = text(&listed.stdout);
    assert!(listing.contains(&id) && listing.contains("agent") && listing.contains("active"), "{listing}");
    assert!(listing.contains("desk 3") && !listing.contains(&key), "{listing}");

    let revoked = gridkb(&["keys", "revoke", &id], dir.path());
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    let listing = text(&gridkb(&["keys", "list"], dir.path()).stdout);
    assert!(listing.contains("revoked"), "{listing}");
}

#[test]
fn bad_roles_and_unknown_ids_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad_role = gridkb(&["keys", "create", "--role", "root"], dir.path());
    assert!(!bad_role.status.success());
    let message = text(&bad_role.stderr);
    assert!(message.contains("unknown role `root`; use agent, bot, manager, editor, reviewer or admin"), "{message}");

    let bad_org = gridkb(&["keys", "create", "--role", "editor", "--org", "省 公司"], dir.path());
    assert!(!bad_org.status.success());
    assert!(text(&bad_org.stderr).contains("the organisation must be an id such as org-p01"));

    let unknown = gridkb(&["keys", "revoke", "k_12345678"], dir.path());
    assert!(!unknown.status.success());
    let message = text(&unknown.stderr);
    assert!(message.contains("no API key with id `k_12345678`"), "{message}");

    std::fs::write(dir.path().join("keys.json"), "{not json").expect("write");
    let corrupt = gridkb(&["keys", "list"], dir.path());
    assert!(!corrupt.status.success());
    let message = text(&corrupt.stderr);
    assert!(message.contains("not a valid gridkb key file") && !message.contains("panicked"), "{message}");
}

#[test]
fn serve_refuses_a_public_address_without_an_active_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let refused = gridkb(&["serve", "--addr", "0.0.0.0:0"], dir.path());
    assert!(!refused.status.success());
    let message = text(&refused.stderr);
    assert!(message.contains("holds no active API key") && message.contains("gridkb keys create"), "{message}");

    // A revoked key is no key.
    let created = gridkb(&["keys", "create", "--role", "admin"], dir.path());
    let key = text(&created.stdout).split_whitespace().last().map(str::to_string).expect("key");
    let id = key.strip_prefix("gkb_").and_then(|k| k.rsplit_once('_')).map(|(id, _)| id.to_string()).expect("id");
    assert!(gridkb(&["keys", "revoke", &id], dir.path()).status.success());
    let refused = gridkb(&["serve", "--addr", "0.0.0.0:0"], dir.path());
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("holds no active API key"));
}
