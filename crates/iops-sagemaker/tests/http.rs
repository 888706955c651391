//! The server over real HTTP on 127.0.0.1: started and stopped by the test.

mod common;

use std::time::Duration;

use axum::body::Bytes;
use common::{artifact, start_server, TestServer, NORMAL};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn ping_and_invocations_over_http() {
    let server = start_server().await;
    let addr = server.addr;
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();

    let ping = client
        .get(format!("http://{addr}/ping").parse().unwrap())
        .await
        .unwrap();
    assert_eq!(ping.status(), 200);

    let body = NORMAL.map(|v| v.to_string()).join(",") + "\n";
    let req = hyper::Request::post(format!("http://{addr}/invocations"))
        .header("content-type", "text/csv")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-iops-model-version"], "test-version");
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let want = artifact().forest().score_one(&NORMAL).unwrap();
    assert_eq!(v["scores"][0]["score"].as_f64().unwrap(), want);

    drop(client);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_drains_a_request_in_flight() {
    let TestServer {
        addr,
        stop,
        task: server,
    } = start_server().await;
    let body = NORMAL.map(|v| v.to_string()).join(",") + "\n";
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    // Headers and half the body, then the shutdown signal, then the rest.
    let head = format!(
        "POST /invocations HTTP/1.1\r\nhost: {addr}\r\ncontent-type: text/csv\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    tcp.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !server.is_finished(),
        "the server waits for the request in flight"
    );
    tcp.write_all(rest).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let score: f64 = response
        .rsplit("\r\n\r\n")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(score, artifact().forest().score_one(&NORMAL).unwrap());
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops once the request is answered")
        .unwrap()
        .unwrap();
    // And it no longer accepts connections.
    assert!(TcpStream::connect(addr).await.is_err());
}
