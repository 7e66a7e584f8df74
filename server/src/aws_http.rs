//! The AWS SDK's HTTP client, on the reqwest stack the OpenAI client already
//! uses (hyper 1, HTTP/1.1, rustls on aws-lc-rs, the system trust store).
//!
//! The SDK's own client (`aws-smithy-http-client`) would link a second
//! connection stack with HTTP/2 (`h2`, ~0.65 MB of code in the arm64 binary)
//! that talking to Secrets Manager, the container credentials endpoint and the
//! metadata service never uses. This implements the SDK's public
//! [`HttpClient`] trait instead; retries, timeouts per operation and attempt,
//! signing and error parsing stay the SDK's.

use std::{sync::Mutex, time::Duration};

use aws_smithy_runtime_api::client::{
    http::{
        HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
        SharedHttpConnector,
    },
    orchestrator::{HttpRequest, HttpResponse},
    result::ConnectorError,
    runtime_components::RuntimeComponents,
};
use aws_smithy_types::body::SdkBody;

type Timeouts = (Option<Duration>, Option<Duration>);

/// An [`HttpClient`] for the AWS SDK and its credential providers.
#[derive(Debug, Default)]
pub struct ReqwestHttpClient {
    /// One reqwest client (and connection pool) per (connect, read) timeout
    /// pair the SDK asks for: Secrets Manager's, the metadata service's.
    clients: Mutex<Vec<(Timeouts, reqwest::Client)>>,
}

impl ReqwestHttpClient {
    pub fn shared() -> SharedHttpClient {
        SharedHttpClient::new(Self::default())
    }

    fn client(&self, timeouts: Timeouts) -> reqwest::Client {
        let mut clients = self.clients.lock().expect("client cache lock");
        if let Some((_, client)) = clients.iter().find(|(t, _)| *t == timeouts) {
            return client.clone();
        }
        let mut builder = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true);
        if let Some(timeout) = timeouts.0 {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = timeouts.1 {
            builder = builder.read_timeout(timeout);
        }
        let client = builder.build().expect("HTTP client configuration is valid");
        clients.push((timeouts, client.clone()));
        client
    }
}

impl HttpClient for ReqwestHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let client = self.client((settings.connect_timeout(), settings.read_timeout()));
        SharedHttpConnector::new(ReqwestConnector { client })
    }
}

#[derive(Debug)]
struct ReqwestConnector {
    client: reqwest::Client,
}

impl HttpConnector for ReqwestConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let client = self.client.clone();
        HttpConnectorFuture::new(async move {
            let request = request
                .try_into_http1x()
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let request = request.map(|body| match body.bytes() {
                Some(bytes) => reqwest::Body::from(bytes.to_vec()),
                None => reqwest::Body::wrap(body),
            });
            let request = reqwest::Request::try_from(request)
                .map_err(|e| ConnectorError::other(e.into(), None))?;
            let mut response = client.execute(request).await.map_err(connector_error)?;
            let status = response.status();
            let version = response.version();
            let headers = std::mem::take(response.headers_mut());
            let bytes = response.bytes().await.map_err(connector_error)?;
            let mut response = axum::http::Response::new(SdkBody::from(bytes));
            *response.status_mut() = status;
            *response.version_mut() = version;
            *response.headers_mut() = headers;
            HttpResponse::try_from(response).map_err(|e| ConnectorError::other(e.into(), None))
        })
    }
}

/// Timeouts and connection failures as the SDK's retry classifier expects
/// them (both are retried as transient).
fn connector_error(error: reqwest::Error) -> ConnectorError {
    if error.is_timeout() {
        ConnectorError::timeout(error.into())
    } else if error.is_connect() || error.is_request() || error.is_body() {
        ConnectorError::io(error.into())
    } else {
        ConnectorError::other(error.into(), None)
    }
}
