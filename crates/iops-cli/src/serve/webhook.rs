//! `iops serve --webhook URL`: each incident transition POSTed as JSON (a Slack-compatible
//! `text` field, the event, the incident and its idempotency key, also in the
//! `Idempotency-Key` header), http or https. A 2xx answer is a delivery; anything else is
//! retried by the dispatcher ([`iops_service::Dispatcher`]).

use std::time::Duration;

use anyhow::{bail, Context, Result};
use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use iops_core::Notification;
use iops_service::{Notifier, NotifyError};

/// A receiver that takes longer than this to answer has failed this attempt.
const TIMEOUT: Duration = Duration::from_secs(10);

/// One webhook.
#[derive(Debug)]
pub struct Webhook {
    url: String,
    uri: Uri,
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Webhook {
    /// A webhook to `url` (http:// or https://; an https receiver is checked against the
    /// system's root certificates).
    pub fn new(url: &str) -> Result<Self> {
        let uri: Uri = url
            .parse()
            .with_context(|| format!("--webhook {url:?} is not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.host().is_some() => {}
            _ => bail!("--webhook {url:?}: must be an http:// or https:// URL with a host"),
        }
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()
            .context("cannot read the system's root certificates (for --webhook)")?
            .https_or_http()
            .enable_http1()
            .build();
        Ok(Webhook {
            url: url.to_owned(),
            uri,
            client: Client::builder(TokioExecutor::new()).build(https),
        })
    }

    async fn post(&self, body: Vec<u8>, key: &str) -> Result<(), String> {
        let request = Request::post(self.uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header("idempotency-key", key)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let answer = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("{e}"))?;
        let status = answer.status();
        // read the answer through, so the connection can be reused
        let _ = answer.into_body().collect().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {status}"))
        }
    }
}

#[async_trait]
impl Notifier for Webhook {
    fn target(&self) -> &str {
        &self.url
    }

    async fn deliver(&self, notification: &Notification) -> Result<(), NotifyError> {
        let failed = |reason: String| NotifyError {
            target: self.url.clone(),
            reason,
        };
        let body = serde_json::to_vec(notification).map_err(|e| failed(e.to_string()))?;
        match tokio::time::timeout(TIMEOUT, self.post(body, &notification.idempotency_key)).await {
            Ok(result) => result.map_err(failed),
            Err(_) => Err(failed(format!("no answer within {TIMEOUT:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_are_webhooks() {
        assert!(Webhook::new("http://127.0.0.1:9/hook").is_ok());
        assert!(Webhook::new("https://hooks.slack.com/services/T/B/X").is_ok());
        for bad in [
            "ftp://example.com/x",
            "not a url",
            "/relative/path",
            "http://",
        ] {
            let err = Webhook::new(bad).unwrap_err().to_string();
            assert!(err.contains("--webhook"), "{bad}: {err}");
        }
    }
}
