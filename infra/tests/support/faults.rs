//! A fault-injecting HTTP/1.1 proxy between `infra` (which reaches it through
//! `AWS_ENDPOINT_URL`) and the emulator, on a free loopback port.
//!
//! Every request is read whole, named with the classification the recorder uses
//! ([`super::operation`], [`super::is_read`]) and then, depending on the [`Mode`], forwarded to
//! the emulator (on a new connection, `Connection: close`; the answer goes back to `infra` with
//! `Connection: close` too, so no connection is ever reused across a fault), answered with a
//! fault, held unanswered, or reset.
//!
//! It runs on its own thread with its own tokio runtime, so the tests can block on `infra`
//! while it serves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does to the calls it sees.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Forward everything.
    Pass,
    /// Forward every read and the first `k` writes; every later write is held unanswered and
    /// never reaches the emulator. [`FaultProxy::writes_answered`] tells when the `k` writes
    /// have been answered: the moment to SIGKILL `infra` to interrupt it after its k-th write.
    HoldWritesAfter(usize),
    /// A `fraction` of calls get one of `faults`: which, is a hash of `seed`, the operation and
    /// how many calls of that operation came before (so the choice does not depend on how
    /// concurrent calls of different operations interleave); at most `max_per_call` faults per SDK invocation (the
    /// `amz-sdk-invocation-id` header, the same on every attempt), so that the SDK's bounded
    /// retries always get through.
    Flaky {
        fraction: f64,
        seed: u64,
        faults: Vec<Fault>,
        max_per_call: u32,
    },
    /// Every call of `operation` gets `fault`; everything else is forwarded.
    Always { operation: String, fault: Fault },
    /// The first attempt of every call of these operations gets `fault` (the SDK's retries
    /// are forwarded); everything else is forwarded.
    FirstAttempt {
        operations: Vec<String>,
        fault: Fault,
    },
}

/// One way a call can fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Throttled, as each protocol says it: JSON `ThrottlingException` / Cognito's
    /// `TooManyRequestsException` (HTTP 429), query-protocol XML `Throttling` (HTTP 400, as IAM
    /// answers).
    Throttle,
    /// HTTP 503, `ServiceUnavailable`, in the protocol's error shape.
    Unavailable,
    /// HTTP 429 with an HTML page and no AWS error code, as a proxy or load balancer in front
    /// of an endpoint answers.
    BareThrottle,
    /// HTTP 500 with an empty body and only a request id header: a server error with no AWS
    /// error code, as an overloaded endpoint sometimes answers.
    BareServerError,
    /// The connection is reset (RST) before the request reaches the emulator.
    Reset,
    /// The request reaches the emulator and is executed; the connection is reset before the
    /// answer gets back (a lost response: the SDK retries a call AWS already did).
    ResetAfter,
    /// Accepted and never answered; the request does not reach the emulator.
    Stall,
}

/// What became of one call.
#[derive(Debug, Clone)]
pub struct Seen {
    pub operation: String,
    pub write: bool,
    /// The SDK's attempt number (`amz-sdk-request: attempt=N`), 1 if absent.
    pub attempt: u32,
    /// `None`: forwarded; else the fault it got (a held write is `Stall`).
    pub fault: Option<Fault>,
    /// The emulator's HTTP status, when it was forwarded and answered.
    pub status: Option<u16>,
}

#[derive(Debug)]
struct State {
    mode: Mode,
    writes_forwarded: usize,
    writes_answered: usize,
    faults_per_call: HashMap<String, u32>,
    /// Calls of each operation since the mode was set.
    per_operation: HashMap<String, u64>,
    log: Vec<Seen>,
}

/// The proxy. Dropping it stops it (connections it holds are closed).
pub struct FaultProxy {
    pub endpoint: String,
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FaultProxy {
    /// Listen on a free loopback port; forward to `127.0.0.1:upstream`.
    pub fn start(upstream: u16, mode: Mode) -> FaultProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            mode,
            writes_forwarded: 0,
            writes_answered: 0,
            faults_per_call: HashMap::new(),
            per_operation: HashMap::new(),
            log: Vec::new(),
        }));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let shared = state.clone();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                let accept = async {
                    loop {
                        let Ok((client, _)) = listener.accept().await else {
                            continue;
                        };
                        tokio::spawn(serve(shared.clone(), upstream, client));
                    }
                };
                tokio::select! {
                    _ = accept => {}
                    _ = stopped => {}
                }
            });
            // Dropping the runtime here drops every task, closing what they held.
        });
        FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            state,
            stop: Some(stop),
        }
    }

    /// Change the mode; the counters and the log start over.
    pub fn set_mode(&self, mode: Mode) {
        let mut state = self.state.lock().unwrap();
        state.mode = mode;
        state.writes_forwarded = 0;
        state.writes_answered = 0;
        state.faults_per_call.clear();
        state.per_operation.clear();
        state.log.clear();
    }

    /// Writes forwarded to the emulator and answered by it, since the mode was set.
    pub fn writes_answered(&self) -> usize {
        self.state.lock().unwrap().writes_answered
    }

    /// Every call since the mode was set, in order of arrival.
    pub fn log(&self) -> Vec<Seen> {
        self.state.lock().unwrap().log.clone()
    }

    /// The writes forwarded (and so executed), in order of arrival.
    pub fn forwarded_writes(&self) -> Vec<String> {
        self.log()
            .into_iter()
            .filter(|s| s.write && s.fault.is_none())
            .map(|s| s.operation)
            .collect()
    }

    /// Block until `k` writes have been answered by the emulator, or `child` exits, or
    /// `timeout`. True when the `k` writes were answered (and `child` may still run).
    pub fn wait_for_writes(
        &self,
        k: usize,
        child: &mut std::process::Child,
        timeout: Duration,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.writes_answered() >= k {
                return true;
            }
            if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                return self.writes_answered() >= k;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A request as read from `infra`.
struct Request {
    method: String,
    target: String,
    /// Header lines as received, without the final CRLF.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The operation, named as the recorder's reader names it.
    fn operation(&self) -> String {
        let path = self.target.split('?').next().unwrap_or_default();
        super::operation(
            &self.method,
            path.trim_start_matches('/'),
            self.header("x-amz-target"),
            &String::from_utf8_lossy(&self.body),
        )
    }

    fn protocol(&self) -> Protocol {
        match self.header("x-amz-target") {
            Some(t) if t.starts_with("AWSCognitoIdentityProviderService") => Protocol::Cognito,
            Some(_) => Protocol::Json,
            None if self
                .header("content-type")
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) =>
            {
                Protocol::Query
            }
            None => Protocol::RestJson,
        }
    }

    fn attempt(&self) -> u32 {
        self.header("amz-sdk-request")
            .and_then(|v| {
                v.split(';')
                    .find_map(|p| p.trim().strip_prefix("attempt="))
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(1)
    }
}

#[derive(Debug, Clone, Copy)]
enum Protocol {
    Cognito,
    Json,
    RestJson,
    Query,
}

/// What to do with one call.
enum Decision {
    Forward,
    Fault(Fault),
}

async fn serve(state: Arc<Mutex<State>>, upstream: u16, client: TcpStream) {
    let mut client = BufReader::new(client);
    let Ok(Some(request)) = read_request(&mut client).await else {
        return;
    };
    let operation = request.operation();
    let write = !super::is_read(&operation);
    let decision = decide(&state, &request, &operation, write);
    let index = {
        let mut s = state.lock().unwrap();
        s.log.push(Seen {
            operation: operation.clone(),
            write,
            attempt: request.attempt(),
            fault: match decision {
                Decision::Forward => None,
                Decision::Fault(f) => Some(f),
            },
            status: None,
        });
        s.log.len() - 1
    };
    let mut client = client.into_inner();
    match decision {
        Decision::Fault(Fault::Stall) => hold(client).await,
        Decision::Fault(Fault::Reset) => reset(client),
        Decision::Fault(Fault::BareThrottle) => {
            let body = "<html><body><h1>429 Too Many Requests</h1></body></html>";
            let response = format!(
                "HTTP/1.1 429 Too Many Requests\r\nContent-Type: text/html\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = client.write_all(response.as_bytes()).await;
            let _ = client.shutdown().await;
        }
        Decision::Fault(Fault::BareServerError) => {
            let response = "HTTP/1.1 500 Internal Server Error\r\nx-amzn-RequestId: \
                            req-injected-500\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            let _ = client.write_all(response.as_bytes()).await;
            let _ = client.shutdown().await;
        }
        Decision::Fault(fault @ (Fault::Throttle | Fault::Unavailable)) => {
            let response = fault_response(fault, request.protocol());
            let _ = client.write_all(&response).await;
            let _ = client.shutdown().await;
        }
        Decision::Forward | Decision::Fault(Fault::ResetAfter) => {
            let response = forward(upstream, &request).await;
            {
                let mut s = state.lock().unwrap();
                if let Some(seen) = s.log.get_mut(index) {
                    seen.status = response.as_ref().ok().and_then(|r| status_of(r));
                }
                if write {
                    s.writes_answered += 1;
                }
            }
            match (decision, response) {
                (Decision::Forward, Ok(response)) => {
                    let _ = client.write_all(&close_connection(&response)).await;
                    let _ = client.shutdown().await;
                }
                _ => reset(client),
            }
        }
    }
}

/// Choose, under the lock, what happens to this call.
fn decide(state: &Mutex<State>, request: &Request, operation: &str, write: bool) -> Decision {
    let mut s = state.lock().unwrap();
    let nth = {
        let n = s.per_operation.entry(operation.to_owned()).or_default();
        *n += 1;
        *n
    };
    let decision = match &s.mode {
        Mode::Pass => Decision::Forward,
        Mode::HoldWritesAfter(k) => {
            if write && s.writes_forwarded >= *k {
                Decision::Fault(Fault::Stall)
            } else {
                Decision::Forward
            }
        }
        Mode::Always {
            operation: op,
            fault,
        } => {
            if op == operation {
                Decision::Fault(*fault)
            } else {
                Decision::Forward
            }
        }
        Mode::FirstAttempt { operations, fault } => {
            if request.attempt() == 1 && operations.iter().any(|o| o == operation) {
                Decision::Fault(*fault)
            } else {
                Decision::Forward
            }
        }
        Mode::Flaky {
            fraction,
            seed,
            faults,
            max_per_call,
        } => {
            let roll = splitmix64(seed ^ splitmix64(fnv1a(operation)).wrapping_add(nth));
            let hit = (roll >> 11) as f64 / (1u64 << 53) as f64;
            let call = request
                .header("amz-sdk-invocation-id")
                .unwrap_or_default()
                .to_owned();
            let so_far = s.faults_per_call.get(&call).copied().unwrap_or(0);
            if hit < *fraction && so_far < *max_per_call && !faults.is_empty() {
                let fault = faults[(roll % faults.len() as u64) as usize];
                *s.faults_per_call.entry(call).or_default() += 1;
                Decision::Fault(fault)
            } else {
                Decision::Forward
            }
        }
    };
    if write
        && matches!(
            decision,
            Decision::Forward | Decision::Fault(Fault::ResetAfter)
        )
    {
        s.writes_forwarded += 1;
    }
    decision
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Keep the connection open, unanswered, until `infra` closes it (gives up, or is killed).
async fn hold(mut client: TcpStream) {
    let mut buf = [0u8; 1024];
    while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Close with an RST instead of a FIN.
fn reset(client: TcpStream) {
    let _ = client.set_zero_linger();
    drop(client);
}

/// One request: head, then a `Content-Length` or chunked body. `None` at a clean EOF.
async fn read_request(client: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if client.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Ok(None);
    };
    let (method, target) = (method.to_owned(), target.to_owned());
    let mut headers = Vec::new();
    loop {
        line.clear();
        if client.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        loop {
            line.clear();
            client.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .unwrap_or(0);
            if size == 0 {
                // Trailers, then the final empty line.
                loop {
                    line.clear();
                    if client.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let start = request.body.len();
            request.body.resize(start + size, 0);
            client.read_exact(&mut request.body[start..]).await?;
            let mut crlf = [0u8; 2];
            client.read_exact(&mut crlf).await?;
        }
        request
            .headers
            .retain(|(n, _)| !n.eq_ignore_ascii_case("transfer-encoding"));
        let length = request.body.len().to_string();
        request.headers.push(("Content-Length".into(), length));
    } else {
        let length: usize = request
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        request.body.resize(length, 0);
        client.read_exact(&mut request.body).await?;
    }
    Ok(Some(request))
}

/// Send the request to the emulator on a new connection and read its whole answer.
async fn forward(upstream: u16, request: &Request) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(("127.0.0.1", upstream)).await?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if !is_hop_by_hop(name) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&request.body).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    if status_of(&response).is_none() {
        return Err(std::io::Error::other("the emulator sent no HTTP response"));
    }
    Ok(response)
}

fn is_hop_by_hop(name: &str) -> bool {
    [
        "connection",
        "keep-alive",
        "proxy-connection",
        "upgrade",
        "te",
    ]
    .iter()
    .any(|h| name.eq_ignore_ascii_case(h))
}

fn status_of(response: &[u8]) -> Option<u16> {
    let line = response.split(|b| *b == b'\n').next()?;
    std::str::from_utf8(line)
        .ok()?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The response with its connection headers replaced by `Connection: close`.
fn close_connection(response: &[u8]) -> Vec<u8> {
    let Some(end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return response.to_vec();
    };
    let head = String::from_utf8_lossy(&response[..end]);
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        let name = line.split(':').next().unwrap_or_default().trim();
        if i > 0 && is_hop_by_hop(name) {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&response[end + 4..]);
    bytes
}

/// A whole HTTP response for `fault`, in the error shape of `protocol`.
fn fault_response(fault: Fault, protocol: Protocol) -> Vec<u8> {
    let throttle = fault == Fault::Throttle;
    let (status, content_type, error_type, body) = match protocol {
        Protocol::Query => {
            let (status, code, message) = if throttle {
                ("400 Bad Request", "Throttling", "Rate exceeded")
            } else {
                (
                    "503 Service Unavailable",
                    "ServiceUnavailable",
                    "Service is unavailable, try again later (injected)",
                )
            };
            (
                status,
                "text/xml",
                None,
                format!(
                    "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
                     <Message>{message}</Message></Error>\
                     <RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
                ),
            )
        }
        Protocol::Cognito | Protocol::Json | Protocol::RestJson => {
            let (status, code, message) = match (throttle, protocol) {
                (true, Protocol::Cognito) => (
                    "429 Too Many Requests",
                    "TooManyRequestsException",
                    "Too many requests",
                ),
                (true, _) => (
                    "429 Too Many Requests",
                    "ThrottlingException",
                    "Rate exceeded",
                ),
                (false, _) => (
                    "503 Service Unavailable",
                    "ServiceUnavailableException",
                    "Service is unavailable, try again later (injected)",
                ),
            };
            let content_type = match protocol {
                Protocol::RestJson => "application/json",
                _ => "application/x-amz-json-1.1",
            };
            (
                status,
                content_type,
                Some(code),
                serde_json::json!({ "__type": code, "message": message }).to_string(),
            )
        }
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         x-amzn-RequestId: 00000000-0000-0000-0000-000000000000\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(error_type) = error_type {
        head.push_str(&format!("x-amzn-ErrorType: {error_type}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}
