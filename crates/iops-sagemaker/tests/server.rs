//! The router, request by request through `oneshot`: every content type, Accept and error.

mod common;

use axum::body::{to_bytes, Body};
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::Router;
use common::{artifact, NORMAL, OUTLIER};
use iops_core::artifact::ModelArtifact;
use iops_core::ndarray::Array2;
use iops_sagemaker::{app, AppState, LoadedModel, MAX_PAYLOAD_BYTES};
use serde_json::Value;
use tower::ServiceExt;

fn router() -> (Router, ModelArtifact) {
    let a = artifact();
    let json = a.to_json().unwrap();
    let model = LoadedModel::from_slice(json.as_bytes()).unwrap();
    (app(AppState::new(model)), a)
}

async fn call(router: &Router, req: Request<Body>) -> (StatusCode, String, String, Response<()>) {
    let resp = router.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap();
    let ct = parts
        .headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        parts.status,
        ct,
        String::from_utf8(bytes.to_vec()).unwrap(),
        Response::from_parts(parts, ()),
    )
}

fn post(
    path: &str,
    content_type: &str,
    accept: Option<&str>,
    body: impl Into<Body>,
) -> Request<Body> {
    let mut b = Request::post(path).header("content-type", content_type);
    if let Some(a) = accept {
        b = b.header("accept", a);
    }
    b.body(body.into()).unwrap()
}

fn csv_row(r: &[f64]) -> String {
    r.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
}

fn error_of(body: &str) -> String {
    let v: Value = serde_json::from_str(body).unwrap();
    v["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn ping_is_200_only_with_a_model() {
    let (router, _) = router();
    let (status, _, _, resp) =
        call(&router, Request::get("/ping").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(resp.headers()["x-iops-model-version"]
        .to_str()
        .unwrap()
        .starts_with("sha256:"));

    let state = AppState::empty();
    let empty = app(state.clone());
    let (status, _, body, _) =
        call(&empty, Request::get("/ping").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_of(&body), "no model is loaded");
    let (status, _, _, _) = call(&empty, post("/invocations", "text/csv", None, "1,2,3,4")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    assert!(state.set_model(LoadedModel::new(artifact(), "late")));
    let (status, _, _, resp) =
        call(&empty, Request::get("/ping").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resp.headers()["x-iops-model-version"], "late");
    assert!(!state.set_model(LoadedModel::new(artifact(), "again")));
}

#[tokio::test]
async fn one_csv_row_answers_csv_like_the_flask_container() {
    let (router, a) = router();
    for accept in [None, Some("*/*"), Some("text/csv")] {
        let (status, ct, body, resp) = call(
            &router,
            post("/invocations", "text/csv", accept, csv_row(&NORMAL) + "\n"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(ct, "text/csv");
        let version = LoadedModel::from_slice(a.to_json().unwrap().as_bytes())
            .unwrap()
            .version()
            .clone();
        assert_eq!(resp.headers()["x-iops-model-version"], version);
        assert_eq!(
            resp.headers()["x-amzn-sagemaker-custom-attributes"],
            format!("model-version={}", version.to_str().unwrap()).as_str()
        );
        let got: f64 = body.trim().parse().unwrap();
        assert_eq!(got, a.forest().score_one(&NORMAL).unwrap());
    }
}

#[tokio::test]
async fn csv_batch_with_header_answers_json_with_anomaly_flags() {
    let (router, a) = router();
    // Columns in another order, plus ones the model does not use: selected by name.
    let body = format!(
        "timestamp,hostname,networkIO,diskIO,memoryUsage,cpuUsage\n\
         2026-01-01T00:00:00Z,web-1,{},{},{},{}\n\
         2026-01-01T00:05:00Z,web-1,{},{},{},{}\n",
        NORMAL[3], NORMAL[2], NORMAL[1], NORMAL[0], OUTLIER[3], OUTLIER[2], OUTLIER[1], OUTLIER[0]
    );
    let (status, ct, text, _) = call(
        &router,
        post(
            "/invocations",
            "text/csv; charset=utf-8",
            Some("application/json"),
            body,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(ct, "application/json");
    let v: Value = serde_json::from_str(&text).unwrap();
    let scores = v["scores"].as_array().unwrap();
    assert_eq!(scores.len(), 2);
    assert_eq!(
        scores[0]["score"].as_f64().unwrap(),
        a.forest().score_one(&NORMAL).unwrap()
    );
    assert_eq!(
        scores[1]["score"].as_f64().unwrap(),
        a.forest().score_one(&OUTLIER).unwrap()
    );
    assert_eq!(scores[0]["anomaly"], false);
    assert_eq!(scores[1]["anomaly"], true);
}

#[tokio::test]
async fn json_request_shapes_and_every_accept() {
    let (router, a) = router();
    let want = [
        a.forest().score_one(&NORMAL).unwrap(),
        a.forest().score_one(&OUTLIER).unwrap(),
    ];
    let metric = |r: [f64; 4]| {
        format!(
            r#"{{"timestamp":"2026-11-26T17:00:00Z","hostname":"web-1","cpuUsage":{},"memoryUsage":{},"diskIO":{},"networkIO":{}}}"#,
            r[0], r[1], r[2], r[3]
        )
    };
    let bodies = [
        format!(
            r#"{{"instances":[{{"features":[{}]}},{{"features":[{}]}}]}}"#,
            csv_row(&NORMAL),
            csv_row(&OUTLIER)
        ),
        format!("[[{}],[{}]]", csv_row(&NORMAL), csv_row(&OUTLIER)),
        format!("[{},{}]", metric(NORMAL), metric(OUTLIER)),
    ];
    for body in &bodies {
        for accept in ["application/json", "application/jsonlines", "text/csv"] {
            let (status, ct, text, _) = call(
                &router,
                post(
                    "/invocations",
                    "application/json",
                    Some(accept),
                    body.clone(),
                ),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body} -> {text}");
            assert_eq!(ct, accept);
            let got: Vec<f64> = match accept {
                "application/json" => serde_json::from_str::<Value>(&text).unwrap()["scores"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["score"].as_f64().unwrap())
                    .collect(),
                "application/jsonlines" => text
                    .lines()
                    .map(|l| {
                        serde_json::from_str::<Value>(l).unwrap()["score"]
                            .as_f64()
                            .unwrap()
                    })
                    .collect(),
                _ => text.lines().map(|l| l.parse().unwrap()).collect(),
            };
            assert_eq!(got, want, "{body} as {accept}");
        }
    }
    // One metric object alone is one row.
    let (status, _, text, _) = call(
        &router,
        post("/invocations", "application/json", None, metric(OUTLIER)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["scores"][0]["score"].as_f64().unwrap(), want[1]);
    assert_eq!(v["scores"][0]["anomaly"], true);
}

#[tokio::test]
async fn json_lines_in_json_lines_out() {
    let (router, a) = router();
    let body = format!(
        "[{}]\n{{\"features\":[{}]}}\n",
        csv_row(&NORMAL),
        csv_row(&OUTLIER)
    );
    let (status, ct, text, _) = call(
        &router,
        post("/invocations", "application/jsonlines", None, body),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(ct, "application/jsonlines");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1]["score"].as_f64().unwrap(),
        a.forest().score_one(&OUTLIER).unwrap()
    );
    assert_eq!(lines[1]["anomaly"], true);
}

#[tokio::test]
async fn runtime_api_path_answers_like_invocations() {
    let (router, a) = router();
    let (status, _, text, resp) = call(
        &router,
        post(
            "/endpoints/iops-anomaly/invocations",
            "text/csv",
            Some("application/json"),
            csv_row(&NORMAL),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(resp.headers().contains_key("x-iops-model-version"));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["scores"][0]["score"].as_f64().unwrap(),
        a.forest().score_one(&NORMAL).unwrap()
    );
}

#[tokio::test]
async fn batches_scored_inline_or_in_parallel_match_score_samples() {
    // 100 and BLOCKING_ROWS rows are scored row by row inline; 1000 on the blocking pool.
    for n in [100, iops_sagemaker::server::BLOCKING_ROWS, 1000] {
        let (router, a) = router();
        let x = Array2::from_shape_fn((n, 4), |(i, j)| ((i * (j + 3)) % 97) as f64 * 3.0);
        let body: String = x
            .outer_iter()
            .map(|r| csv_row(r.as_slice().unwrap()) + "\n")
            .collect();
        let (status, _, text, _) =
            call(&router, post("/invocations", "text/csv", None, body)).await;
        assert_eq!(status, StatusCode::OK);
        let got: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(
            got,
            a.forest().score_samples(x.view()).unwrap().to_vec(),
            "{n} rows"
        );
    }
}

#[tokio::test]
async fn large_batches_match_score_samples() {
    let (router, a) = router();
    let x = Array2::from_shape_fn((1000, 4), |(i, j)| ((i * (j + 3)) % 97) as f64 * 3.0);
    let body: String = x
        .outer_iter()
        .map(|r| csv_row(r.as_slice().unwrap()) + "\n")
        .collect();
    let (status, _, text, _) = call(&router, post("/invocations", "text/csv", None, body)).await;
    assert_eq!(status, StatusCode::OK);
    let got: Vec<f64> = text.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(got, a.forest().score_samples(x.view()).unwrap().to_vec());
}

#[tokio::test]
async fn errors_have_the_right_status_and_a_json_message() {
    let (router, _) = router();
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            post(
                "/invocations",
                "text/csv",
                None,
                "1,2,3,4\n1,2,3,4\n1,abc,3,4\n",
            ),
            StatusCode::BAD_REQUEST,
            "row 3, column 2: \"abc\" is not a number",
        ),
        (
            post("/invocations", "text/csv", None, "1,2,3\n"),
            StatusCode::BAD_REQUEST,
            "row 1: expected 4 features, got 3",
        ),
        (
            post("/invocations", "text/csv", None, "1,2,3,4,5\n"),
            StatusCode::BAD_REQUEST,
            "row 1: expected 4 features, got 5",
        ),
        (
            post("/invocations", "text/csv", None, "1,inf,3,4\n"),
            StatusCode::BAD_REQUEST,
            "row 1, column 2: inf is not finite",
        ),
        (
            post("/invocations", "text/csv", None, ""),
            StatusCode::BAD_REQUEST,
            "empty body: no rows to score",
        ),
        (
            post("/invocations", "application/json", None, ""),
            StatusCode::BAD_REQUEST,
            "empty body: no rows to score",
        ),
        (
            post("/invocations", "application/jsonlines", None, "\n\n"),
            StatusCode::BAD_REQUEST,
            "empty body: no rows to score",
        ),
        (
            post(
                "/invocations",
                "application/json",
                None,
                r#"{"instances":[{"features":[1,2,3,4]},{"features":[1,2,"x",4]}]}"#,
            ),
            StatusCode::BAD_REQUEST,
            "row 2, column 3: \"x\" is not a number",
        ),
        (
            post(
                "/invocations",
                "application/json",
                None,
                r#"[{"cpuUsage":1,"memoryUsage":2,"diskIO":3}]"#,
            ),
            StatusCode::BAD_REQUEST,
            "row 1: missing field \"networkIO\"",
        ),
        (
            post("/invocations", "application/json", None, "\"hello\""),
            StatusCode::BAD_REQUEST,
            "expected an object or an array of rows, got a string",
        ),
        (
            post("/invocations", "text/csv", None, vec![0xff, 0xfe, b'1']),
            StatusCode::BAD_REQUEST,
            "body is not UTF-8",
        ),
        (
            post("/invocations", "text/plain", None, "1,2,3,4"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported Content-Type \"text/plain\"",
        ),
        (
            Request::post("/invocations")
                .body(Body::from("1,2,3,4"))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported Content-Type \"\"",
        ),
        (
            post("/invocations", "text/csv", Some("text/html"), "1,2,3,4"),
            StatusCode::NOT_ACCEPTABLE,
            "cannot answer with any of Accept \"text/html\"",
        ),
        (
            post(
                "/invocations",
                "text/csv",
                None,
                vec![b'1'; MAX_PAYLOAD_BYTES + 1],
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body is larger than the limit of 6291456 bytes",
        ),
    ];
    for (req, want_status, want_msg) in cases {
        let what = format!("{} {:?}", req.uri(), req.headers().get("content-type"));
        let (status, ct, body, _) = call(&router, req).await;
        assert_eq!(status, want_status, "{what}: {body}");
        assert_eq!(ct, "application/json", "{what}");
        let msg = error_of(&body);
        assert!(
            msg.starts_with(want_msg),
            "{what}: {msg:?} does not start with {want_msg:?}"
        );
    }
    // Just under the limit is read (and then refused for its content, not its size).
    let (status, _, _, _) = call(
        &router,
        post(
            "/invocations",
            "text/csv",
            None,
            vec![b'1'; MAX_PAYLOAD_BYTES],
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn execution_parameters_for_batch_transform() {
    let (router, _) = router();
    let (status, ct, body, _) = call(
        &router,
        Request::get("/execution-parameters")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/json");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["MaxConcurrentTransforms"].as_u64().unwrap() >= 1);
    assert_eq!(v["BatchStrategy"], "MULTI_RECORD");
    assert_eq!(v["MaxPayloadInMB"], 6);
}
