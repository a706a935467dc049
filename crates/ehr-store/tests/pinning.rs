//! PinningServiceStore against a small in-test implementation of the IPFS Pinning Service
//! API v1 on loopback (no real service is reachable here). The server checks the bearer
//! token, keeps pin requests in memory and moves each one a step along
//! queued -> pinning -> pinned (or -> failed) every time its status is polled.

use ehr_store::{
    BlobStore, BlobStoreExt, CHUNK_SIZE, Cid, Error, LocalStore, PinState, PinningOptions,
    PinningServiceStore, ProviderNode, StoreOptions, StoreUrl, open_store,
};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

const TOKEN: &str = "secret-token";
const BASE: &str = "/api/v1";

#[derive(Debug, Clone)]
struct Request {
    requestid: String,
    cid: String,
    status: PinState,
    origins: Value,
}

#[derive(Debug, Default)]
struct State {
    pins: Vec<Request>,
    next_id: u64,
    /// CIDs whose pinning fails.
    failing: HashSet<String>,
    /// CIDs that stay queued forever.
    stuck: HashSet<String>,
    /// Polls answered with 503 before the real answer.
    unavailable_polls: u32,
    /// Every request seen, as "METHOD /path".
    log: Vec<String>,
}

struct Service {
    url: Url,
    state: Arc<Mutex<State>>,
}

impl Service {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            // Ends with the test's runtime.
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&shared)));
            }
        });
        Self { url: Url::parse(&format!("http://127.0.0.1:{port}{BASE}")).unwrap(), state }
    }

    fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    fn count(&self, prefix: &str) -> usize {
        self.log().iter().filter(|l| l.starts_with(prefix)).count()
    }
}

/// One request per connection (the answer says `Connection: close`).
async fn serve(mut socket: TcpStream, state: Arc<Mutex<State>>) {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        raw.extend_from_slice(&buf[..n]);
        if let Some(at) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
    };
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split(' ');
    let method = request_line.next().unwrap_or("").to_owned();
    let target = request_line.next().unwrap_or("").to_owned();
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = raw[head_end..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    let authorized = header("authorization").as_deref() == Some(&format!("Bearer {TOKEN}"));
    let (status, answer) = route(&state, &method, &target, &body, authorized);
    let text = answer.to_string();
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        _ => "Error",
    };
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = socket.write_all(response.as_bytes()).await;
    let _ = socket.shutdown().await;
}

fn failure(status: u16, reason: &str, details: &str) -> (u16, Value) {
    (status, json!({"error": {"reason": reason, "details": details}}))
}

fn pin_status(request: &Request) -> Value {
    let mut status = json!({
        "requestid": request.requestid,
        "status": request.status,
        "created": "2024-01-01T00:00:00Z",
        "pin": {"cid": request.cid, "origins": request.origins},
        "delegates": ["/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWService"],
    });
    if request.status == PinState::Failed {
        status["info"] = json!({"status_details": "could not fetch the DAG from any origin"});
    }
    status
}

fn route(
    state: &Mutex<State>,
    method: &str,
    target: &str,
    body: &[u8],
    authorized: bool,
) -> (u16, Value) {
    let mut state = state.lock().unwrap();
    let url = Url::parse(&format!("http://service{target}")).unwrap();
    state.log.push(format!("{method} {}", url.path()));
    if !authorized {
        return failure(401, "UNAUTHORIZED", "missing or wrong access token");
    }
    let Some(path) = url.path().strip_prefix(BASE) else {
        return failure(404, "NOT_FOUND", "unknown path");
    };
    let new_request = |state: &mut State| -> Result<Request, (u16, Value)> {
        let pin: Value = serde_json::from_slice(body)
            .map_err(|_| failure(400, "BAD_REQUEST", "body is not JSON"))?;
        let cid = pin["cid"]
            .as_str()
            .ok_or_else(|| failure(400, "BAD_REQUEST", "cid is required"))?
            .to_owned();
        state.next_id += 1;
        Ok(Request {
            requestid: format!("req-{}", state.next_id),
            cid,
            status: PinState::Queued,
            origins: pin.get("origins").cloned().unwrap_or(json!([])),
        })
    };
    match (method, path) {
        ("POST", "/pins") => match new_request(&mut state) {
            Ok(request) => {
                let answer = pin_status(&request);
                state.pins.push(request);
                (202, answer)
            }
            Err(error) => error,
        },
        ("GET", "/pins") => {
            let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let get = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
            let cids: Option<Vec<String>> =
                get("cid").map(|c| c.split(',').map(str::to_owned).collect());
            let statuses: Vec<String> = get("status")
                .unwrap_or_else(|| "pinned".to_owned())
                .split(',')
                .map(str::to_owned)
                .collect();
            let results: Vec<Value> = state
                .pins
                .iter()
                .filter(|p| cids.as_ref().is_none_or(|c| c.contains(&p.cid)))
                .filter(|p| statuses.contains(&p.status.to_string()))
                .map(pin_status)
                .collect();
            (200, json!({"count": results.len(), "results": results}))
        }
        (method, path) => {
            let Some(id) = path.strip_prefix("/pins/") else {
                return failure(404, "NOT_FOUND", "unknown path");
            };
            let Some(index) = state.pins.iter().position(|p| p.requestid == id) else {
                return failure(404, "NOT_FOUND", "no such request");
            };
            match method {
                "GET" => {
                    if state.unavailable_polls > 0 {
                        state.unavailable_polls -= 1;
                        return failure(503, "UNAVAILABLE", "try again");
                    }
                    let cid = state.pins[index].cid.clone();
                    let fails = state.failing.contains(&cid);
                    let stuck = state.stuck.contains(&cid);
                    let request = &mut state.pins[index];
                    request.status = match (request.status, fails, stuck) {
                        (status, _, true) => status,
                        (PinState::Queued, _, _) => PinState::Pinning,
                        (PinState::Pinning, true, _) => PinState::Failed,
                        (PinState::Pinning, false, _) => PinState::Pinned,
                        (status, _, _) => status,
                    };
                    (200, pin_status(request))
                }
                "POST" => match new_request(&mut state) {
                    Ok(request) => {
                        let answer = pin_status(&request);
                        state.pins[index] = request;
                        (202, answer)
                    }
                    Err(error) => error,
                },
                "DELETE" => {
                    state.pins.remove(index);
                    (202, Value::Null)
                }
                _ => failure(405, "METHOD_NOT_ALLOWED", method),
            }
        }
    }
}

fn fast() -> PinningOptions {
    PinningOptions {
        poll_initial: Duration::from_millis(5),
        poll_max: Duration::from_millis(20),
        wait_timeout: Duration::from_secs(5),
        request_timeout: Duration::from_secs(5),
    }
}

async fn provider() -> (tempfile::TempDir, Arc<LocalStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).await.unwrap();
    (dir, Arc::new(store))
}

fn store(service: &Service, provider: Arc<LocalStore>, token: &str) -> PinningServiceStore {
    PinningServiceStore::new(service.url.clone(), token, provider as Arc<dyn ProviderNode>)
        .unwrap()
        .with_options(fast())
}

#[tokio::test]
async fn put_pins_at_the_service_and_reads_through_the_provider() {
    let service = Service::start().await;
    let (_dir, provider) = provider().await;
    let store = store(&service, Arc::clone(&provider), TOKEN);
    let blob: Vec<u8> = (0..CHUNK_SIZE + 77).map(|i| (i % 199) as u8).collect();

    let cid = store.put_bytes(blob.clone()).await.unwrap();
    assert!(provider.has(cid).await.unwrap(), "the provider holds the data");
    assert!(store.is_pinned(cid).await.unwrap(), "the service reports it pinned");
    assert!(store.has(cid).await.unwrap());
    assert_eq!(store.get_bytes(cid).await.unwrap(), blob);
    let pins = store.list_pins(Some(cid), &PinState::ALL).await.unwrap();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].status, PinState::Pinned);
    assert_eq!(pins[0].pin.cid, cid.to_string());
    assert_eq!(service.count("POST /api/v1/pins"), 1);
    assert!(service.count("GET /api/v1/pins/") >= 2, "polled until pinned");

    // Pinning again reuses the pinned request.
    store.pin(cid).await.unwrap();
    assert_eq!(service.count("POST /api/v1/pins"), 1);

    store.unpin(cid).await.unwrap();
    assert_eq!(service.count("DELETE /api/v1/pins/"), 1);
    assert!(!store.is_pinned(cid).await.unwrap());
    assert!(!provider.is_pinned(cid).await.unwrap());
    assert!(store.list_pins(Some(cid), &PinState::ALL).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_failed_pin_is_reported_and_replaced_on_retry() {
    let service = Service::start().await;
    let (_dir, provider) = provider().await;
    let store = store(&service, Arc::clone(&provider), TOKEN);
    let blob = b"an envelope the service cannot fetch".to_vec();
    let cid = ehr_store::compute_cid(&blob);
    service.state.lock().unwrap().failing.insert(cid.to_string());

    match store.put_bytes(blob.clone()).await {
        Err(Error::PinFailed { cid: failed, requestid, detail }) => {
            assert_eq!(failed, cid);
            assert_eq!(requestid, "req-1");
            assert!(detail.contains("could not fetch"), "{detail}");
        }
        other => panic!("expected PinFailed, got {other:?}"),
    }

    service.state.lock().unwrap().failing.clear();
    store.pin(cid).await.unwrap();
    assert_eq!(
        service.count("POST /api/v1/pins/req-1"),
        1,
        "the failed request was replaced, not duplicated"
    );
    let pins = store.list_pins(Some(cid), &PinState::ALL).await.unwrap();
    assert_eq!(pins.len(), 1);
    assert_eq!(pins[0].status, PinState::Pinned);
}

#[tokio::test]
async fn waiting_is_bounded_and_survives_unavailable_polls() {
    let service = Service::start().await;
    let (_dir, provider) = provider().await;
    let stuck_blob = b"stuck".to_vec();
    let stuck = ehr_store::compute_cid(&stuck_blob);
    service.state.lock().unwrap().stuck.insert(stuck.to_string());
    let store = store(&service, Arc::clone(&provider), TOKEN)
        .with_options(PinningOptions { wait_timeout: Duration::from_millis(300), ..fast() });
    let started = std::time::Instant::now();
    match store.put_bytes(stuck_blob).await {
        Err(Error::PinTimeout { cid, status, waited, .. }) => {
            assert_eq!(cid, stuck);
            assert_eq!(status, PinState::Queued);
            assert!(waited >= Duration::from_millis(300));
        }
        other => panic!("expected PinTimeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(3));

    service.state.lock().unwrap().unavailable_polls = 2;
    let cid = store.put_bytes(b"fine".to_vec()).await.unwrap();
    assert!(store.is_pinned(cid).await.unwrap());
}

#[tokio::test]
async fn a_wrong_token_is_unauthorized() {
    let service = Service::start().await;
    let (_dir, provider) = provider().await;
    let store = store(&service, provider, "wrong");
    let cid = Cid::of_block(ehr_store::Codec::Raw, b"x");
    match store.is_pinned(cid).await {
        Err(Error::Unauthorized { status, message, .. }) => {
            assert_eq!(status, 401);
            assert!(message.contains("UNAUTHORIZED"), "{message}");
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_service_is_reported() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let (_dir, provider) = provider().await;
    let url = Url::parse(&format!("http://127.0.0.1:{port}/api/v1")).unwrap();
    let store = PinningServiceStore::new(url, TOKEN, provider).unwrap();
    let error = store.put_bytes(b"x".to_vec()).await.unwrap_err();
    assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
}

#[tokio::test]
async fn chosen_at_run_time_through_a_setting() {
    let service = Service::start().await;
    let dir = tempfile::tempdir().unwrap();
    let setting = format!("pinning:{}?provider=local:{}", service.url, dir.path().display());
    let url: StoreUrl = setting.parse().unwrap();
    let options = StoreOptions {
        pinning_token: Some(TOKEN.to_owned()),
        pinning: fast(),
        ..Default::default()
    };
    let store = open_store(&url, &options).await.unwrap();
    let cid = store.put_bytes(b"via a setting".to_vec()).await.unwrap();
    assert!(store.is_pinned(cid).await.unwrap());
    assert_eq!(store.get_bytes(cid).await.unwrap(), &b"via a setting"[..]);
}
