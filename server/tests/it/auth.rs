//! Sign-in and tokens: where a token is accepted, how long a socket lives, throttling.

use std::time::Duration;

use crate::harness::{Backend, TestServer, error_then_close};

async fn a_token_in_the_query_string_opens_only_the_sync_socket(backend: Backend) {
    let server = TestServer::start(backend).await;
    let token = server.token("fed-li").await;
    let http = reqwest::Client::new();
    // Query strings reach logs, history and proxies: the API takes the header only.
    let me = http.get(server.http(&format!("/api/me?token={token}"))).send().await.unwrap();
    assert_eq!(me.status(), 401);
    let feed = http.get(server.http(&format!("/api/docs?since=0&token={token}"))).send().await.unwrap();
    assert_eq!(feed.status(), 401);
    let me = http.get(server.http("/api/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(me.status(), 200);
    // Browsers cannot set headers on a WebSocket: there the query is the way.
    assert!(server.socket(&token).await.is_ok());
}

async fn an_open_socket_closes_when_its_token_expires(backend: Backend) {
    let server = TestServer::start(backend).await;
    // Issued so that it expires a second and a half from now.
    let token = server.token_issued_at(server::now_ms() - server::accounts::TOKEN_TTL_MS + 1_500).await;
    let mut socket = server.socket(&token).await.expect("valid for now");
    let started = std::time::Instant::now();
    let error = error_then_close(&mut socket).await;
    assert_eq!(error.as_deref(), Some("the session has expired; sign in again"));
    assert!(started.elapsed() >= Duration::from_millis(1_000), "not before the expiry: {:?}", started.elapsed());
    assert!(server.socket(&token).await.is_err(), "and it opens nothing after");
}

async fn wrong_passwords_make_the_next_sign_in_wait(backend: Backend) {
    let server = TestServer::start(backend).await;
    for _ in 0..5 {
        assert_eq!(server.login("fed-li", "guess").await.status(), 401);
    }
    // Past the free tries even the right password waits: a guesser cannot tell.
    let refused = server.login("fed-li", "demo-federation").await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["retry_after_s"], 1);
    assert!(body["error"].as_str().unwrap().contains("too many wrong passwords"), "{body}");
    // Other users sign in as usual.
    assert_eq!(server.login("proc-wang", "demo-procuratorate").await.status(), 200);

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(server.login("fed-li", "demo-federation").await.status(), 200);
    // A right password clears the count.
    assert_eq!(server.login("fed-li", "guess").await.status(), 401);
    assert_eq!(server.login("fed-li", "demo-federation").await.status(), 200);
}

on_both!(
    a_token_in_the_query_string_opens_only_the_sync_socket,
    an_open_socket_closes_when_its_token_expires,
    wrong_passwords_make_the_next_sign_in_wait,
);
