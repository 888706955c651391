//! Incident notifications from the Lambda: each transition published to the SNS topic
//! ALERT_TOPIC_ARN (the alarm topic may be reused). The message is the notification's JSON
//! (a Slack-compatible `text`, the `event`, the `incident`, the `idempotencyKey`); the key,
//! the event and the severity are also message attributes, so subscriptions can filter on
//! them and a receiver can drop repeats without parsing the body.

use async_trait::async_trait;
use aws_config::BehaviorVersion;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use iops_core::Notification;
use iops_service::{Notifier, NotifyError};

/// The SNS topic notifications go to.
#[derive(Debug, Clone)]
pub struct SnsTopic {
    client: Client,
    topic_arn: String,
}

/// SNS subjects are at most 100 characters.
const SUBJECT_CHARS: usize = 100;

impl SnsTopic {
    /// A publisher to `topic_arn` (SNS_ENDPOINT_URL, or the SDK's AWS_ENDPOINT_URL_SNS /
    /// AWS_ENDPOINT_URL, for an emulator). Makes no request.
    pub async fn connect(topic_arn: &str, endpoint_url: Option<&str>) -> Self {
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let sdk = loader.load().await;
        SnsTopic {
            client: Client::new(&sdk),
            topic_arn: topic_arn.to_owned(),
        }
    }
}

fn attribute(value: &str) -> Result<MessageAttributeValue, String> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| e.to_string())
}

#[async_trait]
impl Notifier for SnsTopic {
    fn target(&self) -> &str {
        &self.topic_arn
    }

    async fn deliver(&self, n: &Notification) -> Result<(), NotifyError> {
        let failed = |reason: String| NotifyError {
            target: self.topic_arn.clone(),
            reason,
        };
        let message = serde_json::to_string(n).map_err(|e| failed(e.to_string()))?;
        let subject: String = format!("iops {}: {}", n.event.as_str(), n.incident.hostname)
            .chars()
            .filter(|c| !c.is_control())
            .take(SUBJECT_CHARS)
            .collect();
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .message_attributes(
                "idempotencyKey",
                attribute(&n.idempotency_key).map_err(failed)?,
            )
            .message_attributes("event", attribute(n.event.as_str()).map_err(failed)?)
            .message_attributes(
                "severity",
                attribute(n.incident.severity.as_str()).map_err(failed)?,
            )
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failed(format!("{}", aws_sdk_sns::error::DisplayErrorContext(e))))
    }
}
