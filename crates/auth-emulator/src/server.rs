//! The HTTP server: accepts connections, serves each with hyper (HTTP/1.1, with upgrades for
//! the WebSocket), and runs every request through one pipeline:
//!
//! ```text
//! classify path → count auth concurrency → latency → read body → method check
//!   → next scripted fault ─ before effect → fault response (handler not run)
//!                        └ none / after effect → handler → (fault mangles the response)
//!   → journal → respond (or drop the connection)
//! ```
//!
//! Connections are served by hand rather than by `axum::serve` because
//! [`Fault::DropConnection`](crate::Fault::DropConnection) must close the socket without any
//! response: the service returns an error for that request, and hyper then closes the
//! connection without writing anything.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, Request, StatusCode, header};
use axum::response::Response;
use http_body_util::BodyExt;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::clock::{ServerInstant, wall_now};
use crate::endpoint::Endpoint;
use crate::faults::FaultTiming;
use crate::journal::{AuthScheme, Outcome, RequestMeta};
use crate::reply::{DropConnection, Facts, Handled, Outgoing, Reply, render_fault};
use crate::request::Incoming;
use crate::state::{Core, Shared};
use crate::{api, login, masquerade, realtime, refresh};

/// Largest request body read (1 MiB); larger bodies get 413.
const MAX_REQUEST_BODY: usize = 1024 * 1024;

/// How much of an oversized body is read and discarded before answering 413.
const DRAIN_LIMIT: usize = 16 * 1024 * 1024;

/// How long shutdown waits for in-flight requests and sockets to finish.
const GRACE: Duration = Duration::from_secs(2);

/// What every connection task carries.
#[derive(Debug, Clone)]
pub(crate) struct ConnCtx {
    pub(crate) shared: Arc<Shared>,
    /// Becomes `true` at shutdown.
    pub(crate) stop: watch::Receiver<bool>,
    /// Held by every task; shutdown waits until all clones are dropped.
    _alive: mpsc::Sender<()>,
}

/// The error that makes hyper close a connection without responding.
#[derive(Debug)]
struct ConnectionDropped;

impl fmt::Display for ConnectionDropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by a scripted fault")
    }
}

impl std::error::Error for ConnectionDropped {}

/// Serves `listener` until `shutdown` fires, then shuts down gracefully (bounded by [`GRACE`]).
pub(crate) async fn run(listener: std::net::TcpListener, shared: Arc<Shared>, mut shutdown: oneshot::Receiver<()>) {
    let Ok(listener) = TcpListener::from_std(listener) else {
        return;
    };
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let (stop_tx, stop_rx) = watch::channel(false);
    let ctx = ConnCtx { shared, stop: stop_rx, _alive: alive_tx };
    tokio::spawn(realtime::ticker(ctx.clone()));
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => spawn_connection(stream, ctx.clone()),
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    drop(listener);
    stop_tx.send_replace(true);
    drop(ctx);
    // Returns once every connection, socket and the ticker has dropped its `_alive` clone.
    let _ = tokio::time::timeout(GRACE, alive_rx.recv()).await;
}

fn spawn_connection(stream: TcpStream, ctx: ConnCtx) {
    let _ = stream.set_nodelay(true);
    let mut stop = ctx.stop.clone();
    tokio::spawn(async move {
        let service_ctx = ctx.clone();
        let service = service_fn(move |req: Request<hyper::body::Incoming>| {
            let ctx = service_ctx.clone();
            async move {
                let response = dispatch(ctx, req).await;
                if response.extensions().get::<DropConnection>().is_some() {
                    Err(ConnectionDropped)
                } else {
                    Ok::<_, ConnectionDropped>(response)
                }
            }
        });
        let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service).with_upgrades();
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = stop.changed() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
        drop(ctx);
    });
}

/// One request, start to finish.
async fn dispatch(ctx: ConnCtx, req: Request<hyper::body::Incoming>) -> Response {
    let at = wall_now();
    let shared = Arc::clone(&ctx.shared);
    let endpoint = Endpoint::classify(req.uri().path(), &shared.masquerade_path);
    // Counted from arrival, so latency widens the window in which overlaps are seen.
    let _in_flight = endpoint.is_auth().then(|| shared.gauge.enter());
    let latency = shared.core().knobs.latency_for(endpoint);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(hook) = shared.hook(endpoint) {
        hook();
    }
    let (parts, body) = req.into_parts();
    let meta = RequestMeta::new(at, endpoint, &parts);
    if endpoint == Endpoint::Realtime {
        return realtime::handshake(ctx, parts, meta).await;
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(error) => {
            let (reply, outcome) = match error {
                BodyReadError::TooLarge => (
                    Reply::failure(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "the request body is over 1 MiB",
                    ),
                    Outcome::PayloadTooLarge,
                ),
                BodyReadError::Broken => (
                    Reply::failure(StatusCode::BAD_REQUEST, "unreadable_body", "the request body could not be read"),
                    Outcome::BadRequest,
                ),
            };
            let facts = Facts::new(AuthScheme::None, outcome);
            shared.record(meta.entry(facts, None, Some(reply.status.as_u16())));
            return Outgoing::Reply(reply).into_response();
        }
    };
    let incoming = Incoming::new(&parts, body);
    process(&shared, &meta, endpoint, &incoming).into_response()
}

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyReadError {
    TooLarge,
    Broken,
}

/// Reads the body up to [`MAX_REQUEST_BODY`]. A larger body is still drained (up to
/// [`DRAIN_LIMIT`]) before the 413 goes out: closing a socket with unread data makes the
/// kernel reset the connection, and the client would never see the 413.
async fn read_body(mut body: hyper::body::Incoming) -> Result<Bytes, BodyReadError> {
    let mut buffer = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyReadError::Broken)?;
        if let Ok(data) = frame.into_data() {
            seen = seen.saturating_add(data.len());
            if seen <= MAX_REQUEST_BODY {
                buffer.extend_from_slice(&data);
            } else if seen > DRAIN_LIMIT {
                break;
            }
        }
    }
    if seen > MAX_REQUEST_BODY { Err(BodyReadError::TooLarge) } else { Ok(Bytes::from(buffer)) }
}

/// The synchronous part: faults, handler, journal. Holds the core lock throughout, so the
/// fault order, the state change and the journal order agree.
fn process(shared: &Shared, meta: &RequestMeta, endpoint: Endpoint, req: &Incoming) -> Outgoing {
    let mut core = shared.core();
    let now = core.clock.now();
    let (outgoing, facts, fault) = match endpoint.allowed_method(&req.path) {
        Some(allowed) if allowed != req.method => {
            let facts = api::identify_credentials(&core, &req.credentials(), now).outcome(Outcome::MethodNotAllowed);
            let reply =
                Reply::failure(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "wrong method for this endpoint")
                    .with_header(
                        header::ALLOW,
                        HeaderValue::from_str(allowed.as_str()).unwrap_or(HeaderValue::from_static("GET")),
                    );
            (reply.into(), facts, None)
        }
        _ => match core.faults.next(endpoint) {
            Some(fault) if fault.timing == FaultTiming::BeforeEffect => {
                let facts = identify(&core, endpoint, req, now).outcome(Outcome::Fault(fault.fault.clone()));
                (render_fault(&fault.fault, None, Some(req)), facts, Some(fault))
            }
            fault => {
                let handled = handle(&mut core, endpoint, req, now);
                match fault {
                    Some(fault) => {
                        (render_fault(&fault.fault, Some(&handled.reply), Some(req)), handled.facts, Some(fault))
                    }
                    None => (handled.reply.into(), handled.facts, None),
                }
            }
        },
    };
    drop(core);
    shared.record(meta.entry(facts, fault, outgoing.status()));
    outgoing
}

fn handle(core: &mut Core, endpoint: Endpoint, req: &Incoming, now: ServerInstant) -> Handled {
    match endpoint {
        Endpoint::Login => login::handle(core, req, now),
        Endpoint::Refresh => refresh::handle(core, req, now),
        Endpoint::Masquerade => masquerade::handle(core, req, now),
        Endpoint::Api => api::handle(core, req, now),
        Endpoint::Redirect => api::redirect(core, req, now),
        Endpoint::Realtime | Endpoint::Other => api::not_found(core, req, now),
    }
}

/// Journal facts for a request a fault stopped before it was processed.
fn identify(core: &Core, endpoint: Endpoint, req: &Incoming, now: ServerInstant) -> Facts {
    match endpoint {
        Endpoint::Login => login::identify(req),
        Endpoint::Refresh => refresh::identify(core, req, now),
        Endpoint::Masquerade => masquerade::identify(core, req, now),
        // Read-only already.
        Endpoint::Api => api::handle(core, req, now).facts,
        Endpoint::Realtime | Endpoint::Redirect | Endpoint::Other => {
            api::identify_credentials(core, &req.credentials(), now)
        }
    }
}
