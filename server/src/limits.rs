//! What one client may hold: the connection cap with its refusal, and the
//! deadlines on reading a request (headers, then body).
//!
//! [`serve_connections`] is the accept loop: each connection is served by
//! hyper's HTTP/1.1 server (what `axum::serve` runs, HTTP/1 only as built
//! here) with a timer, so `header_read_timeout` closes a connection that has
//! not sent a request's complete headers in time, counted from when the
//! connection opened or its previous response ended. hyper only runs that
//! timer while it waits for a request head, never while it writes a
//! response, so long SSE answers are not cut. A semaphore caps open
//! connections; above the cap a connection gets [`refusal`] (a 503) as soon
//! as its request head is in, and is closed. [`body_deadline`] (a router
//! layer) gives every request body a deadline counted from its headers; past
//! it the body yields [`BodyTimeout`] and `/mcp` answers 408.
//!
//! **Health checks above the cap.** A server at its cap is busy, not sick,
//! and AgentCore's health check must not see a 503 then. So the few
//! connections beyond the cap that are held to read their request head (at
//! most [`LINGERING_REFUSALS`], each for at most [`REFUSAL_WAIT`] +
//! [`REFUSAL_LINGER`] and [`MAX_REFUSED_HEAD`] bytes, as for every refusal)
//! serve `GET /ping` and nothing else: when the head's request line is
//! `GET /ping` (with or without a query), the answer is [`ping_response`],
//! the same 200 and JSON body (`Healthy` or `HealthyBusy`) as the router's
//! `/ping`, with `connection: close`; any other request gets the 503. The
//! cap's memory bound is unchanged: no request over the cap reaches the
//! router, and the reserve is the refusals' own (counted in
//! [`FD_RESERVE`]). When all of it is taken (more than
//! [`LINGERING_REFUSALS`] connections over the cap within about 2 s), a new
//! connection gets the 503 at once, unread, pings included.

use std::{
    future::Future,
    io::Write as _,
    pin::{Pin, pin},
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes, HttpBody},
    extract::{Request, State},
    middleware::Next,
    response::Response,
    serve::Listener,
};
use hyper::{
    body::{Frame, SizeHint},
    server::conn::http1,
};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    sync::Semaphore,
    time::Instant,
};
use tokio_util::sync::CancellationToken;

/// The connection limits [`serve_connections`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `HEADER_READ_TIMEOUT_SECS`.
    pub header_read_timeout: Duration,
    /// The effective cap: `MAX_CONNECTIONS`, lowered by [`fd_budget`].
    pub max_connections: usize,
}

/// Connections above the cap that may linger at once to have their request
/// head read (see [`refuse`]): the reserve that answers `GET /ping` above the
/// cap. Past that a refusal is written and the socket closed at once. Part of
/// [`FD_RESERVE`].
pub const LINGERING_REFUSALS: usize = 64;

/// How long a refused connection is given to send its request head before
/// the refusal goes out anyway.
pub const REFUSAL_WAIT: Duration = Duration::from_secs(1);

/// How much of a refused request is read, at most, looking for its head's end.
pub const MAX_REFUSED_HEAD: usize = 16 * 1024;

/// How long a refused connection may take to read the refusal and close.
pub const REFUSAL_LINGER: Duration = Duration::from_secs(1);

/// File descriptors kept out of the connection budget: stdio, the listener,
/// the runtime's epoll and wakers, outbound connection pools (OpenAI, AWS),
/// and up to [`LINGERING_REFUSALS`] refused connections.
pub const FD_RESERVE: u64 = 256;

/// The most connections the open-file limit `nofile` can hold: each served
/// connection may take two descriptors (its socket and, during a search, an
/// upstream connection), after [`FD_RESERVE`]. Without the headroom, accept
/// fails with `EMFILE` before the cap is reached and clients wait in the
/// backlog instead of being refused.
pub fn fd_budget(nofile: u64) -> usize {
    let budget = nofile.saturating_sub(FD_RESERVE) / 2;
    usize::try_from(budget).unwrap_or(usize::MAX).max(1)
}

/// The soft open-file limit (`RLIMIT_NOFILE`) from `/proc/self/limits`
/// (`None` when unlimited or unreadable, e.g. not on Linux).
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    parse_open_file_limit(&limits)
}

/// The soft limit in the "Max open files" row of a `/proc/<pid>/limits` text.
pub fn parse_open_file_limit(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The whole refusal sent above the cap: a complete HTTP/1.1 response, the
/// same whatever the request (which is not parsed), that any client reports.
pub fn refusal(max_connections: usize) -> Vec<u8> {
    let body = format!(
        "503 Service Unavailable: this server is at its limit of {max_connections} open \
         connections (MAX_CONNECTIONS); retry shortly.\n"
    );
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The `GET /ping` body at the time of the call (the router's, see
/// `health::Activity::ping_body`), for pings answered above the cap.
pub type PingBody = Arc<dyn Fn() -> String + Send + Sync>;

/// The whole answer to a `GET /ping` above the cap: 200 with `body` (JSON),
/// then the connection closes.
pub fn ping_response(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Whether `head` (the start of a request, complete up to its blank line) is
/// `GET /ping`, with or without a query: the only request served above the cap.
pub fn is_ping(head: &[u8]) -> bool {
    let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let line = head[..end]
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|b| *b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let path = target.split(|b| *b == b'?').next().unwrap_or_default();
    method == b"GET" && path == b"/ping" && version.starts_with(b"HTTP/1.")
}

/// Accepts connections and serves `app` on each until `stop` is cancelled;
/// then stops accepting (the listener is closed), lets each connection
/// finish its in-flight request (idle ones close at once) and returns once
/// all are closed. Above the cap, `GET /ping` is answered with `ping`'s body
/// and anything else with [`refusal`] (see the module doc).
pub async fn serve_connections<L>(
    mut listener: L,
    app: Router,
    limits: ConnectionLimits,
    ping: PingBody,
    stop: CancellationToken,
) where
    L: Listener<Io = TcpStream>,
{
    let max = limits.max_connections;
    let permits = Arc::new(Semaphore::new(max));
    let lingering = Arc::new(Semaphore::new(LINGERING_REFUSALS));
    let refusal: Arc<[u8]> = refusal(max).into();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // Refusals are logged at most every 10 s, with their count.
    let mut refused = 0u64;
    let mut refusal_logged: Option<Instant> = None;
    loop {
        // `Listener::accept` retries on errors, pausing 1 s after `EMFILE`.
        let tcp = tokio::select! {
            (tcp, _) = listener.accept() => tcp,
            () = stop.cancelled() => break,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            refuse(tcp, refusal.clone(), ping.clone(), &lingering);
            refused += 1;
            if refusal_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
                tracing::warn!(
                    max_connections = max,
                    refused,
                    "connection limit reached: refusing new connections with 503 (GET /ping \
                     is still answered)"
                );
                refused = 0;
                refusal_logged = Some(Instant::now());
            }
            continue;
        };
        let connection =
            builder.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app.clone()));
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut connection = pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                // Header timeouts, resets, malformed requests: the client's doing.
                tracing::debug!(%error, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // Every connection holds a permit until it closes.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
}

/// Sends the refusal, or the ping answer, and closes. While a lingering slot
/// is free, it first waits (up to [`REFUSAL_WAIT`]) for the request head,
/// since HTTP clients treat a response that comes before their request as a
/// broken connection; a `GET /ping` head ([`is_ping`]) gets
/// [`ping_response`], anything else (or no complete head in time) the
/// refusal. Then it half-closes and reads what else the client sends until
/// it closes too (up to [`REFUSAL_LINGER`]): closing with unread bytes would
/// send a reset that can destroy the answer before the client reads it.
/// Without a free slot, the refusal is written at once with one non-blocking
/// `send` (a new socket's buffer holds it) and the socket closed.
fn refuse(tcp: TcpStream, refusal: Arc<[u8]>, ping: PingBody, lingering: &Arc<Semaphore>) {
    let Ok(slot) = lingering.clone().try_acquire_owned() else {
        if let Ok(tcp) = tcp.into_std() {
            let _ = (&tcp).write(&refusal);
            let _ = tcp.shutdown(std::net::Shutdown::Write);
        }
        return;
    };
    tokio::spawn(async move {
        let mut tcp = tcp;
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        let read_head = async {
            while head.len() < MAX_REFUSED_HEAD && !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match tcp.read(&mut buf).await {
                    Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
                    _ => break,
                }
            }
        };
        let _ = tokio::time::timeout(REFUSAL_WAIT, read_head).await;
        let answer = if is_ping(&head) {
            ping_response(&ping()).into()
        } else {
            refusal
        };
        let respond = async {
            tcp.write_all(&answer).await?;
            tcp.shutdown().await?;
            while tcp.read(&mut buf).await? > 0 {}
            std::io::Result::Ok(())
        };
        let _ = tokio::time::timeout(REFUSAL_LINGER, respond).await;
        drop(slot);
    });
}

/// A request body that has not ended by its deadline.
#[derive(Debug, thiserror::Error)]
#[error(
    "the request body did not arrive in full within {} s (BODY_READ_TIMEOUT_SECS)",
    .0.as_secs_f64()
)]
pub struct BodyTimeout(pub Duration);

/// Whether `error` (from reading a body) is, or wraps, a [`BodyTimeout`].
pub fn is_body_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(error) = current {
        if error.is::<BodyTimeout>() {
            return true;
        }
        current = error.source();
    }
    false
}

/// Router layer: every request body must arrive in full within `timeout` of
/// the request reaching the router (its headers parsed). A handler that
/// reads it then gets [`BodyTimeout`] instead of waiting; one that does not
/// read it is unaffected, and hyper closes the connection after the
/// response rather than reading the rest.
pub async fn body_deadline(
    State(timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let deadline = Instant::now() + timeout;
    let request = request.map(|body| {
        if body.is_end_stream() {
            body
        } else {
            Body::new(DeadlineBody {
                inner: body,
                deadline,
                timeout,
                sleep: None,
            })
        }
    });
    next.run(request).await
}

/// A body that fails with [`BodyTimeout`] if it is still incomplete at
/// `deadline`. The timer is only created on the first poll that has to wait.
struct DeadlineBody {
    inner: Body,
    deadline: Instant,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTimeout(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_file_limit_is_the_soft_limit() {
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max cpu time              unlimited            unlimited            seconds   \n\
                      Max open files            1024                 524288               files     \n\
                      Max locked memory         8388608              8388608              bytes     \n";
        assert_eq!(parse_open_file_limit(limits), Some(1024));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_file_limit(unlimited), None);
        assert_eq!(parse_open_file_limit(""), None);
        assert!(
            open_file_limit().is_some_and(|n| n > 0),
            "readable on Linux"
        );
    }

    #[test]
    fn fd_budget_leaves_headroom() {
        assert_eq!(fd_budget(1024), 384);
        assert_eq!(fd_budget(20_000), 9872);
        assert_eq!(fd_budget(1_048_576), 524_160);
        assert_eq!(fd_budget(100), 1, "never zero");
    }

    #[test]
    fn refusal_is_a_complete_response() {
        let text = String::from_utf8(refusal(8)).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(head.contains("\r\nconnection: close"));
        assert!(head.contains("\r\nretry-after: 1"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        assert!(body.contains("limit of 8 open connections (MAX_CONNECTIONS)"));
    }

    #[test]
    fn only_get_ping_is_served_above_the_cap() {
        for ping in [
            &b"GET /ping HTTP/1.1\r\nhost: x\r\n\r\n"[..],
            b"GET /ping?probe=1 HTTP/1.1\r\n\r\n",
            b"GET /ping HTTP/1.0\r\n\r\n",
            b"GET /ping HTTP/1.1\r\ncontent-length: 3\r\n\r\nabc",
        ] {
            assert!(is_ping(ping), "{}", String::from_utf8_lossy(ping));
        }
        for other in [
            &b"POST /mcp HTTP/1.1\r\n\r\n"[..],
            b"POST /ping HTTP/1.1\r\n\r\n",
            b"HEAD /ping HTTP/1.1\r\n\r\n",
            b"get /ping HTTP/1.1\r\n\r\n",
            b"GET /pingx HTTP/1.1\r\n\r\n",
            b"GET /ping/ HTTP/1.1\r\n\r\n",
            b"GET /mcp?/ping HTTP/1.1\r\n\r\n",
            b"GET  /ping HTTP/1.1\r\n\r\n",
            b"GET /ping HTTP/2\r\n\r\n",
            b"GET /ping HTTP/1.1\r\nhost: x\r\n",
            b"GET /ping",
            b"",
        ] {
            assert!(!is_ping(other), "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn ping_response_is_a_complete_response() {
        let body = r#"{"status":"HealthyBusy","time_of_last_update":1}"#;
        let text = String::from_utf8(ping_response(body)).unwrap();
        let (head, sent) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\ncontent-type: application/json"));
        assert!(head.contains("\r\nconnection: close"));
        assert!(head.contains(&format!("\r\ncontent-length: {}", body.len())));
        assert_eq!(sent, body);
    }

    #[tokio::test]
    async fn body_timeout_is_found_through_wrappers() {
        let inner = axum::Error::new(BodyTimeout(Duration::from_secs(3)));
        let outer = axum::Error::new(inner);
        assert!(is_body_timeout(&outer));
        assert!(outer.to_string().contains("within 3 s"), "{outer}");
        assert!(!is_body_timeout(&axum::Error::new(std::io::Error::other(
            "x"
        ))));
    }

    #[tokio::test]
    async fn a_stalled_body_fails_at_its_deadline_a_complete_one_never() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
        tx.send(Ok(Bytes::from_static(b"0123456789")))
            .await
            .unwrap();
        let timeout = Duration::from_millis(200);
        let body = Body::new(DeadlineBody {
            inner: Body::from_stream(tokio_stream(rx)),
            deadline: Instant::now() + timeout,
            timeout,
            sleep: None,
        });
        let started = Instant::now();
        let error = axum::body::to_bytes(body, 1 << 20).await.unwrap_err();
        assert!(is_body_timeout(&error), "{error}");
        assert!(started.elapsed() >= timeout, "{:?}", started.elapsed());
        drop(tx);

        let body = Body::new(DeadlineBody {
            inner: Body::from("complete"),
            deadline: Instant::now(),
            timeout: Duration::ZERO,
            sleep: None,
        });
        assert_eq!(axum::body::to_bytes(body, 100).await.unwrap(), "complete");
    }

    fn tokio_stream<T>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures::Stream<Item = T> + Send + 'static
    where
        T: Send + 'static,
    {
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
