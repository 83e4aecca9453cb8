//! Two server instances on one PostgreSQL database behave as one: a change stored through one
//! reaches clients of the other, sharing, revoking and signing out act on both, and the feed
//! never skips a write that commits after a later one started.

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ROOT, ReadDoc};

use crate::harness::*;
use crate::sync::{federation_creates, feed};

/// Two servers on one new PostgreSQL database.
async fn two_instances() -> (TestServer, TestServer) {
    let database = Backend::Postgres.database().await;
    let a = TestServer::start_on(database.clone()).await;
    let b = TestServer::start_on(database).await;
    (a, b)
}

fn description(client: &Client, id: shared::DocumentId) -> Option<String> {
    client.node.doc(id)?.get(ROOT, "description").ok()??.0.as_str().map(str::to_owned)
}

async fn share(server: &TestServer, token: &str, id: shared::DocumentId, org: &str) {
    let r = reqwest::Client::new()
        .post(server.http(&format!("/api/docs/{id}/share")))
        .bearer_auth(token)
        .json(&serde_json::json!({ "org": org }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn a_change_stored_through_one_instance_reaches_a_client_of_the_other() {
    let (a, b) = two_instances().await;
    let token = a.token("fed-li").await;
    let id = federation_creates(&a, &token, "first").await;

    let mut on_b = Client::connect(&b, &b.token("fed-li").await, "fed-tablet").await;
    on_b.open(id, vec![]).await;
    assert!(on_b.synced(id).await);
    assert_eq!(description(&on_b, id).as_deref(), Some("first"));

    let mut on_a = Client::connect(&a, &token, "fed-phone").await;
    on_a.open(id, vec![]).await;
    assert!(on_a.synced(id).await);
    on_a.node.doc_mut(id).unwrap().put(ROOT, "description", "second").unwrap();
    on_a.changed(id).await;
    assert!(on_a.synced(id).await, "instance A stored the change");

    let started = Instant::now();
    assert!(on_b.pump_until(|c| description(c, id).as_deref() == Some("second")).await, "pushed by instance B");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "promptly: {took:?}");
    assert!(on_b.synced(id).await, "and B has it stored: the client agrees with B");

    // And back: an edit on B reaches A's client.
    on_b.node.doc_mut(id).unwrap().put(ROOT, "description", "third").unwrap();
    on_b.changed(id).await;
    assert!(on_a.pump_until(|c| description(c, id).as_deref() == Some("third")).await, "pushed by instance A");
}

#[tokio::test]
async fn sharing_and_revoking_on_one_instance_act_on_the_other() {
    let (a, b) = two_instances().await;
    let fed = a.token("fed-li").await;
    let id = federation_creates(&a, &fed, "邻居反映").await;

    let proc_token = b.token("proc-wang").await;
    let mut reader = Client::connect(&b, &proc_token, "proc-laptop").await;
    reader.open(id, vec![]).await;
    assert!(reader.pump_until(|c| c.unavailable.contains(&id)).await, "not yet shared");

    share(&a, &fed, id, "county-procuratorate").await;
    reader.unavailable.clear();
    reader.open(id, vec![]).await;
    assert!(reader.synced(id).await, "shared through A, read through B");
    assert_eq!(description(&reader, id).as_deref(), Some("邻居反映"));

    let revoked = reqwest::Client::new()
        .delete(a.http(&format!("/api/docs/{id}/share/county-procuratorate")))
        .bearer_auth(&fed)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    // B hears of it and withdraws the allowance of its open connection: the reader's next
    // change is refused and never stored.
    tokio::time::sleep(Duration::from_millis(500)).await;
    reader.node.doc_mut(id).unwrap().put(ROOT, "description", "after revoke").unwrap();
    reader.changed(id).await;
    assert!(reader.pump_until(|c| c.unavailable.contains(&id)).await, "doc-unavailable on B after a revoke on A");
    let mut check = Client::connect(&a, &fed, "fed-check").await;
    check.open(id, vec![]).await;
    assert!(check.synced(id).await);
    assert_eq!(description(&check, id).as_deref(), Some("邻居反映"));
}

#[tokio::test]
async fn signing_out_on_one_instance_closes_the_socket_on_the_other() {
    let (a, b) = two_instances().await;
    let token = a.token("fed-li").await;
    let mut on_b = Client::connect(&b, &token, "fed-phone").await;
    assert!(on_b.pump_until(|c| c.node.connections().count() == 1).await);

    let out = reqwest::Client::new().post(a.http("/api/logout")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(out.status(), 200);
    let started = Instant::now();
    assert!(on_b.pump_until(|c| c.closed.is_some()).await, "B closed the token's socket");
    assert!(started.elapsed() < Duration::from_secs(3), "promptly: {:?}", started.elapsed());
    assert!(b.socket(&token).await.is_err(), "and B opens nothing for it");
}

/// A writer that took a feed number and has not committed yet (a slow transaction on another
/// instance) holds back every later writer, so no reader can see a later number and move its
/// checkpoint past the earlier one.
#[tokio::test]
async fn the_feed_never_skips_a_write_that_commits_late() {
    let database = Backend::Postgres.database().await;
    let server = TestServer::start_on(database.clone()).await;
    let token = server.token("fed-li").await;
    let early = federation_creates(&server, &token, "early").await;
    let since = feed(&server, &token, 0).await["last_seq"].as_i64().unwrap();

    let server::Database::Postgres(url) = &database else { unreachable!() };
    let (mut slow, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let tx = slow.transaction().await.unwrap();
    let seq: i64 = tx.query_one("UPDATE counters SET value = value + 1 WHERE name = 'seq' RETURNING value", &[]).await.unwrap().get(0);
    tx.execute("UPDATE docs SET seq = $1 WHERE id = $2", &[&seq, &early.to_string()]).await.unwrap();

    let later = federation_creates(&server, &token, "later");
    tokio::pin!(later);
    tokio::select! {
        _ = &mut later => panic!("a later write committed before an earlier number did"),
        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
    }
    let meanwhile = feed(&server, &token, since).await;
    assert_eq!(meanwhile["docs"], serde_json::json!([]), "nothing past the checkpoint is visible yet");
    assert_eq!(meanwhile["last_seq"].as_i64(), Some(since), "and the checkpoint does not move");

    tx.commit().await.unwrap();
    let later = later.await;
    let after = feed(&server, &token, since).await;
    let entries: Vec<(String, i64)> =
        after["docs"].as_array().unwrap().iter().map(|d| (d["id"].as_str().unwrap().to_owned(), d["seq"].as_i64().unwrap())).collect();
    assert_eq!(entries.first(), Some(&(early.to_string(), seq)), "the late commit is in the feed, first: {entries:?}");
    assert!(entries.iter().any(|(id, s)| *id == later.to_string() && *s > seq), "{entries:?}");
}

/// The connection an instance hears notices on breaks: what happened meanwhile (an edit, a
/// sign-out) still reaches it once it has reconnected.
#[tokio::test]
async fn what_happens_while_notices_are_cut_off_is_caught_up_after() {
    let database = Backend::Postgres.database().await;
    let (a, b) = (TestServer::start_on(database.clone()).await, TestServer::start_on(database.clone()).await);
    let token = a.token("fed-li").await;
    let id = federation_creates(&a, &token, "before").await;
    let mut on_b = Client::connect(&b, &token, "fed-tablet").await;
    on_b.open(id, vec![]).await;
    assert!(on_b.synced(id).await);
    let other_token = a.token("fed-li").await;
    let mut signed_out = Client::connect(&b, &other_token, "fed-laptop").await;
    assert!(signed_out.pump_until(|c| c.node.connections().count() == 1).await);

    // Cut every instance's notice connection; the edit and the sign-out land in the gap.
    let server::Database::Postgres(url) = &database else { unreachable!() };
    let (admin, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let cut = admin
        .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND datname = current_database()", &[])
        .await
        .unwrap();
    assert_eq!(cut.len(), 2, "one notice connection per instance");
    let mut on_a = Client::connect(&a, &token, "fed-phone").await;
    on_a.open(id, vec![]).await;
    assert!(on_a.synced(id).await);
    on_a.node.doc_mut(id).unwrap().put(ROOT, "description", "during the gap").unwrap();
    on_a.changed(id).await;
    assert!(on_a.synced(id).await);
    let out = reqwest::Client::new().post(a.http("/api/logout")).bearer_auth(&other_token).send().await.unwrap();
    assert_eq!(out.status(), 200);

    assert!(on_b.pump_until(|c| description(c, id).as_deref() == Some("during the gap")).await, "B read the document again");
    assert!(signed_out.pump_until(|c| c.closed.is_some()).await, "B checked its sockets' tokens again");
}
