//! Shared pieces of the security suite: a small HTTP/1.1 proxy (std threads, no extra
//! dependencies) that sits in front of the REAL anvil or the REAL kubo and can drop, delay or
//! rewrite exchanges; revert-name assertions; byte scanning for the PHI canary.

#![allow(dead_code, unreachable_pub)] // each test binary uses part of this module

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::thread;
use std::time::Duration;

/// One HTTP request as the proxy received it (body de-chunked).
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The request body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The JSON-RPC method of a (non-batch) JSON-RPC request.
    pub fn rpc_method(&self) -> Option<String> {
        self.json()?.get("method")?.as_str().map(str::to_owned)
    }
}

/// One HTTP response from upstream (body de-chunked).
#[derive(Debug, Clone)]
pub struct Response {
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// What the proxy does with an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Answer (possibly rewritten).
    Pass,
    /// Close the client connection without answering.
    Drop,
}

type Before = Arc<dyn Fn(&Request) -> Verdict + Send + Sync>;
type After = Arc<dyn Fn(&Request, &mut Response) -> Verdict + Send + Sync>;

#[derive(Default, Clone)]
struct Hooks {
    before: Option<Before>,
    after: Option<After>,
}

/// An HTTP proxy on a loopback port in front of `upstream`.
pub struct HttpProxy {
    addr: SocketAddr,
    hooks: Arc<RwLock<Hooks>>,
    stop: Arc<AtomicBool>,
    /// Requests received.
    pub requests: Arc<AtomicUsize>,
    /// Connections dropped on purpose.
    pub dropped: Arc<AtomicUsize>,
}

impl HttpProxy {
    /// Starts forwarding to `upstream` (an `http://host:port/...` URL; only host and port count).
    pub fn start(upstream: &reqwest::Url) -> io::Result<Self> {
        let upstream = upstream
            .socket_addrs(|| None)?
            .into_iter()
            .next()
            .ok_or_else(|| io::Error::other("upstream has no address"))?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let hooks: Arc<RwLock<Hooks>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let dropped = Arc::new(AtomicUsize::new(0));
        {
            let (hooks, stop, requests, dropped) =
                (hooks.clone(), stop.clone(), requests.clone(), dropped.clone());
            thread::spawn(move || {
                for client in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = client else { continue };
                    let (hooks, requests, dropped) =
                        (hooks.clone(), requests.clone(), dropped.clone());
                    thread::spawn(move || {
                        let _ = serve(client, upstream, &hooks, &requests, &dropped);
                    });
                }
            });
        }
        Ok(Self { addr, hooks, stop, requests, dropped })
    }

    /// The proxy's URL with `path` (e.g. `/` for an RPC endpoint).
    pub fn url(&self, path: &str) -> reqwest::Url {
        format!("http://{}{}", self.addr, path).parse().expect("a valid URL")
    }

    /// Runs `f` on each request before it is forwarded (Drop: it never reaches upstream).
    pub fn before(&self, f: impl Fn(&Request) -> Verdict + Send + Sync + 'static) {
        self.hooks.write().unwrap().before = Some(Arc::new(f));
    }

    /// Runs `f` on each upstream response before it is returned (it may rewrite it; Drop:
    /// upstream handled the request but the client never hears the answer).
    pub fn after(&self, f: impl Fn(&Request, &mut Response) -> Verdict + Send + Sync + 'static) {
        self.hooks.write().unwrap().after = Some(Arc::new(f));
    }

    /// Forwards everything unchanged again.
    pub fn clear(&self) {
        *self.hooks.write().unwrap() = Hooks::default();
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    hooks: &RwLock<Hooks>,
    requests: &AtomicUsize,
    dropped: &AtomicUsize,
) -> io::Result<()> {
    let mut writer = client.try_clone()?;
    let mut reader = BufReader::new(client);
    loop {
        let Some((line, headers)) = read_head(&mut reader)? else { return Ok(()) };
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or("/").to_owned();
        let body = read_body(&mut reader, &headers, false)?;
        let request = Request { method, path, headers, body };
        requests.fetch_add(1, Ordering::SeqCst);
        let current = hooks.read().unwrap().clone();
        if let Some(before) = &current.before
            && before(&request) == Verdict::Drop
        {
            dropped.fetch_add(1, Ordering::SeqCst);
            let _ = writer.shutdown(Shutdown::Both);
            return Ok(());
        }
        let mut response = forward(upstream, &request)?;
        if let Some(after) = &current.after
            && after(&request, &mut response) == Verdict::Drop
        {
            dropped.fetch_add(1, Ordering::SeqCst);
            let _ = writer.shutdown(Shutdown::Both);
            return Ok(());
        }
        let mut out = format!("{}\r\n", response.status_line).into_bytes();
        for (name, value) in &response.headers {
            let lower = name.to_ascii_lowercase();
            if ["content-length", "transfer-encoding", "connection", "trailer"]
                .contains(&lower.as_str())
            {
                continue;
            }
            out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        out.extend_from_slice(
            format!("Content-Length: {}\r\n\r\n", response.body.len()).as_bytes(),
        );
        out.extend_from_slice(&response.body);
        writer.write_all(&out)?;
        writer.flush()?;
    }
}

fn forward(upstream: SocketAddr, request: &Request) -> io::Result<Response> {
    let stream = TcpStream::connect_timeout(&upstream, Duration::from_secs(5))?;
    let mut up_writer = stream.try_clone()?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.path).into_bytes();
    for (name, value) in &request.headers {
        let lower = name.to_ascii_lowercase();
        if ["content-length", "transfer-encoding", "connection", "keep-alive"]
            .contains(&lower.as_str())
        {
            continue;
        }
        head.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    head.extend_from_slice(
        format!("Content-Length: {}\r\nConnection: close\r\n\r\n", request.body.len()).as_bytes(),
    );
    head.extend_from_slice(&request.body);
    up_writer.write_all(&head)?;
    up_writer.flush()?;
    let mut reader = BufReader::new(stream);
    let (status_line, headers) =
        read_head(&mut reader)?.ok_or_else(|| io::Error::other("upstream closed"))?;
    let body = read_body(&mut reader, &headers, true)?;
    Ok(Response { status_line, headers, body })
}

/// A request or status line and its headers.
type Head = (String, Vec<(String, String)>);

fn read_head(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let first = line.trim_end().to_owned();
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        if let Some((name, value)) = trimmed.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    Ok(Some((first, headers)))
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn read_body(
    reader: &mut impl BufRead,
    headers: &[(String, String)],
    until_eof: bool,
) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    if header(headers, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(io::Error::other)?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim_end().is_empty() {
                        break;
                    }
                }
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            line.clear();
            reader.read_line(&mut line)?;
        }
    } else if let Some(len) = header(headers, "content-length") {
        let len: usize = len.parse().map_err(io::Error::other)?;
        body.resize(len, 0);
        reader.read_exact(&mut body)?;
    } else if until_eof {
        reader.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// The name of the custom error `result` reverted with (panics on success or another failure).
pub fn revert_name<T: std::fmt::Debug>(result: Result<T, ehr_contracts::Error>) -> String {
    match result {
        Ok(value) => panic!("expected a revert, got success {value:?}"),
        Err(error) => match error.revert_reason() {
            Some(reason) => reason.error_name().to_owned(),
            None => panic!("expected a revert, got {error}"),
        },
    }
}

/// Asserts `result` reverted with the custom error `name`; returns the decoded message.
pub fn assert_reverted<T: std::fmt::Debug>(
    result: Result<T, ehr_contracts::Error>,
    name: &str,
) -> String {
    match result {
        Ok(value) => panic!("expected a revert with {name}, got success {value:?}"),
        Err(error) => {
            let reason = error
                .revert_reason()
                .unwrap_or_else(|| panic!("expected a revert with {name}, got {error}"));
            assert_eq!(reason.error_name(), name, "{error}");
            error.to_string()
        }
    }
}

/// The encodings a marker is searched for in raw bytes: raw UTF-8, UTF-16LE, lower- and
/// upper-case hex, standard base64 at all three alignments, and ASCII lowercase.
pub fn marker_encodings(marker: &str) -> Vec<(String, Vec<u8>)> {
    let raw = marker.as_bytes().to_vec();
    let mut out = vec![
        ("raw".to_owned(), raw.clone()),
        ("lowercase".to_owned(), marker.to_ascii_lowercase().into_bytes()),
        ("hex".to_owned(), alloy::hex::encode(&raw).into_bytes()),
        ("HEX".to_owned(), alloy::hex::encode_upper(&raw).into_bytes()),
        (
            "utf16le".to_owned(),
            marker.encode_utf16().flat_map(|u| u.to_le_bytes()).collect::<Vec<u8>>(),
        ),
    ];
    // base64 of the marker at each of the three byte alignments: the stable inner part.
    for shift in 0..3 {
        let mut padded = vec![0u8; shift];
        padded.extend_from_slice(&raw);
        let encoded = base64(&padded);
        // Skip characters influenced by the padding prefix and the unknown suffix.
        let start = (shift * 4).div_ceil(3) + 1;
        let end = (padded.len() / 3) * 4;
        if end > start + 8 {
            out.push((format!("base64/{shift}"), encoded.as_bytes()[start..end].to_vec()));
        }
    }
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Every (marker, encoding) found in `haystack`.
pub fn scan(haystack: &[u8], markers: &[String]) -> Vec<(String, String)> {
    // Every needle is ASCII (UTF-16 adds NULs): a lossy UTF-8 view keeps all ASCII bytes in
    // place, and `str::contains` is fast even in a debug build.
    let text = String::from_utf8_lossy(haystack);
    let mut hits = Vec::new();
    for marker in markers {
        for (encoding, needle) in marker_encodings(marker) {
            let needle = String::from_utf8(needle).expect("ASCII needles");
            if !needle.is_empty() && text.contains(&needle) {
                hits.push((marker.clone(), encoding));
            }
        }
    }
    hits
}

/// A random marker like `PHICANARY-<hex>`.
pub fn marker(label: &str) -> String {
    let mut bytes = [0u8; 8];
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let seed = alloy::primitives::keccak256(format!("{label}{nanos}{:p}", &bytes));
    bytes.copy_from_slice(&seed[..8]);
    format!("Zq{label}{}", alloy::hex::encode(bytes))
}
