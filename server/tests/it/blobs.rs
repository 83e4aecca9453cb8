//! Attachments over real HTTP: resumable upload in parts, a size limit with a clear message,
//! bytes checked against their hash, and only readers of the record may fetch them.

use reqwest::StatusCode;
use shared::storage_key::chunk_hash as sha256_hex;

use crate::harness::*;
use crate::sync::federation_creates_referring;

async fn put(server: &TestServer, token: &str, url: &str, offset: u64, total: u64, body: Vec<u8>) -> reqwest::Response {
    reqwest::Client::new()
        .put(server.http(&format!("{url}?offset={offset}&total={total}")))
        .bearer_auth(token)
        .body(body)
        .send()
        .await
        .unwrap()
}

async fn get(server: &TestServer, token: &str, url: &str) -> reqwest::Response {
    reqwest::Client::new().get(server.http(url)).bearer_auth(token).send().await.unwrap()
}

async fn an_attachment_uploads_in_parts_resumes_and_reads_back_only_for_readers(backend: Backend) {
    let server = TestServer::start(backend).await;
    let fed = server.token("fed-li").await;
    let proc_ = server.token("proc-wang").await;
    let photo: Vec<u8> = (0..1_500_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let hash = sha256_hex(&photo);
    let id = federation_creates_referring(&server, &fed, "有照片", &[&hash]).await;
    let url = format!("/api/docs/{id}/blobs/{hash}");
    let total = photo.len() as u64;

    // First part, then the connection "drops": the server says where to go on.
    let first = put(&server, &fed, &url, 0, total, photo[..600_000].to_vec()).await;
    assert_eq!(first.status(), StatusCode::OK);
    let status: serde_json::Value = get(&server, &fed, &format!("{url}/upload")).await.json().await.unwrap();
    assert_eq!(status["received"], 600_000);
    assert_eq!(status["complete"], false);
    assert_eq!(get(&server, &fed, &url).await.status(), StatusCode::NOT_FOUND, "unfinished uploads are not served");

    // A part at the wrong offset is refused with where the upload stands.
    let wrong = put(&server, &fed, &url, 0, total, photo[..10].to_vec()).await;
    assert_eq!(wrong.status(), StatusCode::CONFLICT);
    assert!(wrong.text().await.unwrap().contains("600000"));

    // Resume from there in two more parts.
    assert_eq!(put(&server, &fed, &url, 600_000, total, photo[600_000..1_200_000].to_vec()).await.status(), StatusCode::OK);
    let done: serde_json::Value = put(&server, &fed, &url, 1_200_000, total, photo[1_200_000..].to_vec()).await.json().await.unwrap();
    assert_eq!(done["complete"], true);
    let back = get(&server, &fed, &url).await;
    assert_eq!(back.status(), StatusCode::OK);
    assert_eq!(back.bytes().await.unwrap().to_vec(), photo);

    // Another organisation gets 404, for reading, resuming and writing alike.
    assert_eq!(get(&server, &proc_, &url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(get(&server, &proc_, &format!("{url}/upload")).await.status(), StatusCode::NOT_FOUND);
    let other = b"forged".to_vec();
    let forged = put(&server, &proc_, &format!("/api/docs/{id}/blobs/{}", sha256_hex(&other)), 0, 6, other).await;
    assert_eq!(forged.status(), StatusCode::NOT_FOUND);

    // Once the record is shared, they read it.
    let shared = reqwest::Client::new()
        .post(server.http(&format!("/api/docs/{id}/share")))
        .bearer_auth(&fed)
        .json(&serde_json::json!({ "org": "county-procuratorate" }))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), StatusCode::OK);
    assert_eq!(get(&server, &proc_, &url).await.bytes().await.unwrap().to_vec(), photo);

    // Each download that was served left one audit row, naming the hash, not the photo.
    let store = server::store::open(&server.database).await.unwrap();
    let downloads: Vec<(String, String)> = store
        .audit_rows(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.action == "download")
        .map(|r| (r.entry.username, r.entry.detail))
        .collect();
    assert_eq!(downloads, [("fed-li".to_owned(), hash[..12].to_owned()), ("proc-wang".to_owned(), hash[..12].to_owned())]);
}

async fn bad_uploads_get_clear_errors_and_store_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let fed = server.token("fed-li").await;
    let claimed = sha256_hex(b"the real photo");
    let id = federation_creates_referring(&server, &fed, "x", &[&claimed]).await;

    // An attachment the record does not refer to: refused, saying so.
    let stray = put(&server, &fed, &format!("/api/docs/{id}/blobs/{}", sha256_hex(b"a stray file")), 0, 12, b"a stray file".to_vec()).await;
    assert_eq!(stray.status(), StatusCode::CONFLICT);
    assert!(stray.text().await.unwrap().contains("does not refer"));

    // Too large: refused up front, with the limit in the message.
    let big = put(&server, &fed, &format!("/api/docs/{id}/blobs/{}", "a".repeat(64)), 0, 50 * 1024 * 1024, vec![1]).await;
    assert_eq!(big.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(big.text().await.unwrap().contains("20 MiB"));

    // A part above the per-request limit.
    let part = put(&server, &fed, &format!("/api/docs/{id}/blobs/{}", "b".repeat(64)), 0, 3_000_000, vec![0; 2_000_000]).await;
    assert_eq!(part.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Bytes that do not match their name: refused, and the upload starts over.
    let url = format!("/api/docs/{id}/blobs/{claimed}");
    let mismatch = put(&server, &fed, &url, 0, 9, b"tampered!".to_vec()).await;
    assert_eq!(mismatch.status(), StatusCode::BAD_REQUEST);
    assert!(mismatch.text().await.unwrap().contains("SHA-256"));
    let status: serde_json::Value = get(&server, &fed, &format!("{url}/upload")).await.json().await.unwrap();
    assert_eq!(status["received"], 0);
    assert_eq!(get(&server, &fed, &url).await.status(), StatusCode::NOT_FOUND);

    // Not a hash at all; a missing query; a record that does not exist.
    assert_eq!(get(&server, &fed, &format!("/api/docs/{id}/blobs/not-a-hash")).await.status(), StatusCode::BAD_REQUEST);
    let no_query = reqwest::Client::new().put(server.http(&url)).bearer_auth(&fed).body("x").send().await.unwrap();
    assert_eq!(no_query.status(), StatusCode::BAD_REQUEST);
    let nowhere = "11111111111111114Ki9Gx";
    assert_eq!(get(&server, &fed, &format!("/api/docs/{nowhere}/blobs/{claimed}")).await.status(), StatusCode::NOT_FOUND);
    // And without a token nothing at all.
    let anonymous = reqwest::Client::new().get(server.http(&url)).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

/// Someone who may read the record starts an upload of its attachment's hash with the wrong
/// size: the real upload still goes through, and what is served is the real file.
async fn a_wrong_start_of_an_upload_does_not_block_the_real_one(backend: Backend) {
    let server = TestServer::start(backend).await;
    let fed = server.token("fed-li").await;
    let photo = vec![7u8; 300_000];
    let id = federation_creates_referring(&server, &fed, "x", &[&sha256_hex(&photo)]).await;
    let url = format!("/api/docs/{id}/blobs/{}", sha256_hex(&photo));
    assert_eq!(put(&server, &fed, &url, 0, 5_000_000, vec![1; 500_000]).await.status(), StatusCode::OK);

    let done: serde_json::Value = put(&server, &fed, &url, 0, photo.len() as u64, photo.clone()).await.json().await.unwrap();
    assert_eq!(done["complete"], true);
    let back = get(&server, &fed, &url).await;
    assert_eq!(back.headers()["cache-control"], "no-store", "survivor photos stay out of the browser's HTTP cache");
    assert_eq!(back.bytes().await.unwrap().to_vec(), photo);
}

on_both!(
    an_attachment_uploads_in_parts_resumes_and_reads_back_only_for_readers,
    bad_uploads_get_clear_errors_and_store_nothing,
    a_wrong_start_of_an_upload_does_not_block_the_real_one,
);
