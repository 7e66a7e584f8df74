//! A log line per AWS call attempt, at debug level (`-v`, or `RUST_LOG=infra=debug`): service,
//! operation, HTTP status (or the failure), time, and the attempt number when the SDK retries.
//! Never the request or response bodies, so nothing secret.
//!
//! It also keeps the calls that are waiting for an answer, by service and endpoint, so a
//! command that times out can say which endpoint stalled ([`unanswered`]): the SDK's timeout
//! error names neither, and with `AWS_ENDPOINT_URL_<SERVICE>` each service may have its own.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};

/// When the current attempt started.
#[derive(Debug, Clone)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// The id of the current attempt in [`IN_FLIGHT`].
#[derive(Debug, Clone)]
struct Flight(u64);

impl Storable for Flight {
    type Storer = StoreReplace<Self>;
}

/// One call sent and not answered (yet): its id, service and endpoint origin.
struct Pending {
    id: u64,
    service: String,
    operation: String,
    origin: String,
}

static NEXT_FLIGHT: AtomicU64 = AtomicU64::new(0);
/// Calls sent and not answered: removed when an answer (or an error other than a timeout)
/// arrives; a call dropped by the operation timeout stays.
static IN_FLIGHT: Mutex<Vec<Pending>> = Mutex::new(Vec::new());

/// The endpoints of calls that were sent and never answered (or timed out), each once with
/// its services: `http://127.0.0.1:4566 (Secrets Manager)`. Only the calls of `operation`
/// when one of them is among them (the call the error is about).
pub fn unanswered(operation: &str) -> Vec<String> {
    let pending = IN_FLIGHT.lock().unwrap_or_else(|e| e.into_inner());
    let named = pending.iter().any(|call| call.operation == operation);
    let mut endpoints: Vec<(String, Vec<String>)> = Vec::new();
    for call in pending
        .iter()
        .filter(|c| !named || c.operation == operation)
    {
        match endpoints
            .iter_mut()
            .find(|(origin, _)| *origin == call.origin)
        {
            Some((_, services)) if services.contains(&call.service) => {}
            Some((_, services)) => services.push(call.service.clone()),
            None => endpoints.push((call.origin.clone(), vec![call.service.clone()])),
        }
    }
    endpoints
        .into_iter()
        .map(|(origin, services)| format!("{origin} ({})", services.join(", ")))
        .collect()
}

fn landed(id: u64) {
    IN_FLIGHT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|call| call.id != id);
}

#[derive(Debug, Default)]
pub struct CallLog;

impl Intercept for CallLog {
    fn name(&self) -> &'static str {
        "infra::CallLog"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let id = NEXT_FLIGHT.fetch_add(1, Ordering::Relaxed);
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_default();
        let origin = origin(context.request().uri());
        IN_FLIGHT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Pending {
                id,
                service,
                operation,
                origin,
            });
        cfg.interceptor_state().store_put(Flight(id));
        Ok(())
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Flight(id)) = cfg.load::<Flight>() {
            let timed_out = context.response().is_none()
                && matches!(context.output_or_error(), Some(Err(e)) if e.is_timeout_error());
            if !timed_out {
                landed(*id);
            }
        }
        if !tracing::enabled!(target: "infra::aws", tracing::Level::DEBUG) {
            return Ok(());
        }
        let (service, operation) = cfg
            .load::<Metadata>()
            .map(|m| (m.service().to_owned(), m.name().to_owned()))
            .unwrap_or_default();
        let elapsed = cfg
            .load::<Started>()
            .map(|s| s.0.elapsed().as_millis())
            .unwrap_or_default();
        let attempt = cfg
            .load::<RequestAttempts>()
            .map(|a| a.attempts())
            .unwrap_or(1);
        let outcome = match context.response() {
            Some(response) => response.status().as_u16().to_string(),
            None => match context.output_or_error() {
                Some(Err(e)) => format!("failed ({e})"),
                _ => "no response".to_owned(),
            },
        };
        let retry = if attempt > 1 {
            format!(" (attempt {attempt})")
        } else {
            String::new()
        };
        tracing::debug!(target: "infra::aws", "{service} {operation} → {outcome} in {elapsed} ms{retry}");
        Ok(())
    }
}

/// `scheme://host[:port]` of a request URI (no path, no query: nothing signed or secret).
fn origin(uri: &str) -> String {
    let (scheme, rest) = uri.split_once("://").unwrap_or(("https", uri));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    format!("{scheme}://{authority}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_origin_keeps_scheme_host_and_port_only() {
        assert_eq!(
            super::origin("http://127.0.0.1:4566/?Action=GetCallerIdentity"),
            "http://127.0.0.1:4566"
        );
        assert_eq!(
            super::origin("https://secretsmanager.us-west-2.amazonaws.com/"),
            "https://secretsmanager.us-west-2.amazonaws.com"
        );
    }
}
