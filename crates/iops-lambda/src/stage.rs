//! The API Gateway stage prefix, removed in one place: lambda_http puts the stage into the
//! request's URI (`/prod/metrics` for a REST API's stage `prod`), while routes are the paths
//! clients call. The path API Gateway received (`RequestExt::raw_http_path`) replaces the
//! URI's path before the router sees it; the query stays.

use lambda_http::http::uri::{PathAndQuery, Uri};
use lambda_http::tower::util::MapRequestLayer;
use lambda_http::{Request, RequestExt};

/// The layer (a `map_request`), to wrap around the whole router: routing reads the path.
pub fn layer() -> MapRequestLayer<fn(Request) -> Request> {
    MapRequestLayer::new(without_stage)
}

/// `request` with its URI's path replaced by the raw path, when the event carried one that
/// forms a valid URI path; otherwise unchanged.
pub fn without_stage(mut request: Request) -> Request {
    let raw = request.raw_http_path();
    if raw.is_empty() || raw == request.uri().path() {
        return request;
    }
    let path_and_query = match request.uri().query() {
        Some(query) => format!("{raw}?{query}"),
        None => raw.to_owned(),
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = path_and_query.parse::<PathAndQuery>().ok();
    if parts.path_and_query.is_none() {
        return request;
    }
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The REST API fixture (stage `prod`) at `path`, with `?hostname=` when `host` is given.
    fn rest_event(path: &str, host: Option<&str>) -> Request {
        let fixture = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/apigw_v1_post_metrics.json"
        );
        let mut e: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
        e["path"] = path.into();
        e["requestContext"]["path"] = format!("/prod{path}").into();
        if let Some(host) = host {
            e["queryStringParameters"] = serde_json::json!({ "hostname": host });
            e["multiValueQueryStringParameters"] = serde_json::json!({ "hostname": [host] });
        }
        lambda_http::request::from_str(&e.to_string()).unwrap()
    }

    #[test]
    fn the_stage_leaves_the_path_and_the_query_stays() {
        let request = rest_event("/metrics", Some("web-1"));
        assert_eq!(
            request.uri().path(),
            "/prod/metrics",
            "lambda_http adds the stage"
        );
        let request = without_stage(request);
        assert_eq!(request.uri().path(), "/metrics");
        assert_eq!(request.uri().query(), Some("hostname=web-1"));
        assert_eq!(
            request.uri().host(),
            Some("abcdef1234.execute-api.us-east-1.amazonaws.com")
        );
    }

    #[test]
    fn a_path_without_raw_path_or_an_unparsable_one_is_left_alone() {
        let plain = lambda_http::http::Request::get("/prod/metrics?x=1")
            .body(lambda_http::Body::Empty)
            .unwrap();
        assert_eq!(without_stage(plain).uri(), "/prod/metrics?x=1");
        let odd = without_stage(rest_event("/has space", None));
        assert_eq!(odd.uri().path(), "/prod/has%20space");
    }
}
