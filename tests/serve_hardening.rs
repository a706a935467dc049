//! `ehr serve` hardened, against a real anvil: requests naming a foreign Host or Origin (DNS
//! rebinding) are refused, the API needs the page's per-launch token, relays stop at the
//! patient's quotas (count, gas, allowlist, key-material size) with a 429 that says when they
//! reset, a client sending its headers one byte per second is cut off, connections beyond the
//! limit wait for a free slot, a relayed transaction that is not mined does not hold up
//! another patient's relay, and one the node drops is replaced at its nonce with higher fees
//! (a 504 that says so when no version is mined).

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::{Purpose, Replacement};
use ehr_sdk::consent::GrantSpec;
use ehr_sdk::relay::{SignedGrant, sign_grant};
use ehr_sdk::{Chain, Session};
use ehr_serve::{Limits, RelayPolicy, ServeConfig, Server};
use ehrkit_tests::TestChain;
use serde_json::Value;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// A chain with a doctor and two patients, and a relayer account.
struct Fixture {
    chain: TestChain,
    doctor: PrivateKeySigner,
    other_doctor: PrivateKeySigner,
    patients: [PrivateKeySigner; 2],
    relayer: PrivateKeySigner,
}

async fn fixture() -> eyre::Result<Fixture> {
    let chain = TestChain::start(false).await?;
    let roles = chain.deployment.role_registry;
    let (_hospital, doctors) = chain.hospital_with_doctors(roles, "General Hospital", 2).await?;
    let [doctor, other_doctor] = <[_; 2]>::try_from(doctors).expect("two doctors");
    let patients = [chain.patient(roles).await?, chain.patient(roles).await?];
    let relayer = chain.account().await?;
    Ok(Fixture { chain, doctor, other_doctor, patients, relayer })
}

impl Fixture {
    async fn session(&self, signer: &PrivateKeySigner) -> eyre::Result<Session> {
        let chain =
            Chain::connect(self.chain.stack.anvil().rpc_url(), Some(signer.clone())).await?;
        Ok(Session::with_deployment(chain, self.chain.deployment.clone(), None).await?)
    }

    /// `ehr serve` relaying as the relayer, on a free loopback port.
    async fn serve(&self, config: ServeConfig) -> eyre::Result<Served> {
        let session = self.session(&self.relayer).await?;
        let (listener, addr) = ehr_serve::bind("127.0.0.1:0".parse()?).await?;
        let server = Server::new(session, addr, config)?;
        let task = tokio::spawn(server.run(listener));
        let mut client = Client { addr, token: String::new() };
        let page = client.get("/", &[]).await?;
        assert_eq!(page.status, 200, "{}", page.body);
        let token = page.body.split(r#"name="ehr-api-token" content=""#).nth(1).expect("a token");
        client.token = token[..token.find('"').expect("closing quote")].to_owned();
        Ok(Served { client, task })
    }

    /// A Category grant `patient` signs to `grantee`, valid for an hour.
    async fn signed(
        &self,
        patient: &PrivateKeySigner,
        grantee: Address,
        category: &str,
    ) -> eyre::Result<SignedGrant> {
        let spec = GrantSpec {
            grantee,
            scope: ehr_sdk::NamedScope::Category(category.to_owned()),
            purpose: Purpose::Treatment,
            duration: 30 * DAY,
            record_key: None,
        };
        let session = self.session(patient).await?;
        Ok(sign_grant(&session, spec, Duration::from_secs(3600)).await?)
    }

    async fn rpc(&self, method: &str, params: Value) -> eyre::Result<Value> {
        let reader = self.chain.reader();
        let params: Vec<Value> = serde_json::from_value(params)?;
        Ok(reader.raw_request::<_, Value>(method.to_owned().into(), params).await?)
    }

    /// The relayer's transaction at `nonce` waiting in anvil's pool, if any.
    async fn pooled(&self, nonce: u64) -> eyre::Result<Option<Pooled>> {
        let pool = self.rpc("txpool_content", serde_json::json!([])).await?;
        let mine = pool["pending"]
            .as_object()
            .and_then(|by| {
                by.iter().find(|(a, _)| a.eq_ignore_ascii_case(&self.relayer.address().to_string()))
            })
            .map(|(_, txs)| txs.clone());
        let Some(tx) = mine.and_then(|txs| txs.get(nonce.to_string()).cloned()) else {
            return Ok(None);
        };
        let number = |field: &str| -> eyre::Result<u128> {
            let text = tx[field].as_str().unwrap_or_default().trim_start_matches("0x");
            Ok(u128::from_str_radix(text, 16)?)
        };
        Ok(Some(Pooled {
            hash: tx["hash"].as_str().unwrap_or_default().parse()?,
            max_fee: number("maxFeePerGas")?,
            tip: number("maxPriorityFeePerGas")?,
        }))
    }

    async fn pending_nonce(&self) -> eyre::Result<u64> {
        Ok(self.chain.reader().get_transaction_count(self.relayer.address()).pending().await?)
    }
}

/// A transaction in anvil's pool.
struct Pooled {
    hash: alloy::primitives::TxHash,
    max_fee: u128,
    tip: u128,
}

/// A running server (stopped when dropped) and a client of it.
struct Served {
    client: Client,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::ops::Deref for Served {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Talks raw HTTP/1.1 to the server, with the page's token for the API.
#[derive(Clone)]
struct Client {
    addr: SocketAddr,
    token: String,
}

#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }
}

impl Client {
    fn host(&self) -> String {
        self.addr.to_string()
    }

    /// One request on its own connection, exactly as written (headers as given).
    async fn raw(&self, request: String) -> eyre::Result<Answer> {
        let mut stream = TcpStream::connect(self.addr).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(150), stream.read_to_end(&mut out)).await??;
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        Ok(Answer { status, head: head.to_owned(), body: body.to_owned() })
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> eyre::Result<Answer> {
        let host = self.host();
        let mut request = format!("GET {path} HTTP/1.1\r\nconnection: close\r\n");
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            request += &format!("host: {host}\r\n");
        }
        for (name, value) in headers {
            request += &format!("{name}: {value}\r\n");
        }
        self.raw(request + "\r\n").await
    }

    async fn api(&self, path: &str) -> eyre::Result<Answer> {
        let token = self.token.clone();
        self.get(path, &[("x-ehr-token", &token)]).await
    }

    async fn post(&self, path: &str, body: &SignedGrant) -> eyre::Result<Answer> {
        let body = serde_json::to_string(body)?;
        self.raw(format!(
            "POST {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\nx-ehr-token: {}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            self.host(),
            self.token,
            body.len()
        ))
        .await
    }
}

#[tokio::test]
async fn a_foreign_host_or_origin_is_refused_and_the_deployment_carries_no_rpc_url()
-> eyre::Result<()> {
    let f = fixture().await?;
    let served = f.serve(ServeConfig::default()).await?;
    let port = served.addr.port();
    // A rebound DNS name: the browser sends its own name as Host, for the page and the API.
    let rebound = format!("attacker.example:{port}");
    for path in ["/", "/api/deployment"] {
        let token = served.token.clone();
        let answer = served.get(path, &[("host", &rebound), ("x-ehr-token", &token)]).await?;
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
        assert!(answer.error().contains("attacker.example"), "{}", answer.error());
        assert!(!answer.body.contains(&served.token), "the token leaked to a foreign host");
    }
    // A foreign Origin on an otherwise right request.
    let token = served.token.clone();
    let origin = format!("http://attacker.example:{port}");
    let answer =
        served.get("/api/deployment", &[("origin", &origin), ("x-ehr-token", &token)]).await?;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(answer.error().contains("requests from"), "{}", answer.error());
    // The served origins pass, localhost included.
    let own = format!("http://localhost:{port}");
    let localhost = format!("localhost:{port}");
    let answer = served
        .get("/api/deployment", &[("host", &localhost), ("origin", &own), ("x-ehr-token", &token)])
        .await?;
    assert_eq!(answer.status, 200, "{answer:?}");
    let deployment = answer.json();
    assert!(deployment.get("rpcUrl").is_none(), "{deployment}");
    assert!(!answer.body.contains(&f.chain.stack.anvil().rpc_url().to_string()));
    assert_eq!(
        deployment["relayer"].as_str().map(str::to_lowercase),
        Some(format!("{:#x}", f.relayer.address()))
    );
    Ok(())
}

#[tokio::test]
async fn the_api_needs_this_launchs_token() -> eyre::Result<()> {
    let f = fixture().await?;
    let served = f.serve(ServeConfig::default()).await?;
    assert_eq!(served.token.len(), 64);
    let missing = served.get("/api/deployment", &[]).await?;
    assert_eq!(missing.status, 401, "{missing:?}");
    assert!(missing.error().contains("x-ehr-token"), "{}", missing.error());
    // Another launch's token (a page left open across a restart) is refused too.
    let other = f.serve(ServeConfig::default()).await?;
    assert_ne!(other.token, served.token);
    let wrong = served.get("/api/deployment", &[("x-ehr-token", &other.token)]).await?;
    assert_eq!(wrong.status, 401, "{wrong:?}");
    assert!(wrong.error().contains("not this server's"), "{}", wrong.error());
    let patient = format!("/api/patients/{}/grants", f.patients[0].address());
    assert_eq!(served.get(&patient, &[]).await?.status, 401);
    let relay = served.raw(format!(
        "POST /api/relay/grant HTTP/1.1\r\nhost: {}\r\nconnection: close\r\ncontent-type: \
         application/json\r\ncontent-length: 2\r\n\r\n{{}}",
        served.host()
    ));
    assert_eq!(relay.await?.status, 401);
    assert_eq!(served.api("/api/deployment").await?.status, 200);
    assert_eq!(served.api(&patient).await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn relays_stop_at_the_patients_quotas() -> eyre::Result<()> {
    let f = fixture().await?;
    let relay = RelayPolicy { max_relays: 2, ..RelayPolicy::default() };
    let served = f.serve(ServeConfig { relay, ..ServeConfig::default() }).await?;
    let [alice, bob] = &f.patients;
    let doctor = f.doctor.address();
    for category in ["lab", "imaging"] {
        let answer =
            served.post("/api/relay/grant", &f.signed(alice, doctor, category).await?).await?;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    let third = f.signed(alice, doctor, "vitals").await?;
    let answer = served.post("/api/relay/grant", &third).await?;
    assert_eq!(answer.status, 429, "{answer:?}");
    assert!(answer.error().contains("has had 2 transactions relayed"), "{}", answer.error());
    assert!(answer.error().contains("the quota resets at"), "{}", answer.error());
    let retry = answer.json()["retryAfter"].as_u64().expect("retryAfter");
    assert!(retry > 86_000 && retry <= 86_400, "{retry}");
    assert!(
        answer.head.to_lowercase().contains(&format!("retry-after: {retry}")),
        "{}",
        answer.head
    );
    // Nothing was sent for the refused one: the patient's nonce did not move.
    let nonce =
        ehr_contracts::tx::call("nonce", f.session(alice).await?.consent().nonces(alice.address()))
            .await?;
    assert_eq!(nonce, third.nonce);
    // Another patient has a quota of its own.
    let answer = served.post("/api/relay/grant", &f.signed(bob, doctor, "lab").await?).await?;
    assert_eq!(answer.status, 200, "{answer:?}");

    // A gas quota below one grant's gas limit refuses it before anything is sent.
    let relay = RelayPolicy { max_gas: 100_000, ..RelayPolicy::default() };
    let stingy = f.serve(ServeConfig { relay, ..ServeConfig::default() }).await?;
    let answer = stingy
        .post("/api/relay/grant", &f.signed(bob, f.other_doctor.address(), "lab").await?)
        .await?;
    assert_eq!(answer.status, 429, "{answer:?}");
    assert!(answer.error().contains("gas"), "{}", answer.error());

    // The allowlist.
    let relay = RelayPolicy { patients: Some(vec![alice.address()]), ..RelayPolicy::default() };
    let listed = f.serve(ServeConfig { relay, ..ServeConfig::default() }).await?;
    let answer = listed
        .post("/api/relay/grant", &f.signed(bob, f.other_doctor.address(), "lab").await?)
        .await?;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert!(answer.error().contains("--relay-patient"), "{}", answer.error());

    // Key material beyond what the scope needs (4 KiB of it): refused, whatever the quota.
    let mut padded = f.signed(alice, f.other_doctor.address(), "lab").await?;
    let mut wrapped = padded.grant.wrapped_keys.to_vec();
    wrapped.resize(4096, 0);
    padded.grant.wrapped_keys = Bytes::from(wrapped);
    let answer = listed.post("/api/relay/grant", &padded).await?;
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(answer.error().contains("4096 bytes"), "{}", answer.error());
    Ok(())
}

#[tokio::test]
async fn a_client_sending_headers_one_byte_a_second_is_cut_off() -> eyre::Result<()> {
    let f = fixture().await?;
    let limits = Limits {
        header_timeout: Duration::from_secs(2),
        body_timeout: Duration::from_secs(2),
        ..Limits::default()
    };
    let served = f.serve(ServeConfig { limits, ..ServeConfig::default() }).await?;
    let request = format!(
        "GET / HTTP/1.1\r\nhost: {}\r\nx-padding: {}\r\n\r\n",
        served.host(),
        "a".repeat(40)
    );
    let mut stream = TcpStream::connect(served.addr).await?;
    let started = Instant::now();
    let mut sent = 0;
    let mut buf = [0u8; 1024];
    let closed = loop {
        if sent == request.len() {
            break false;
        }
        if stream.write_all(&request.as_bytes()[sent..sent + 1]).await.is_err() {
            break true;
        }
        sent += 1;
        // A second between bytes, listening for the server closing meanwhile.
        match tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await {
            Err(_) => continue,
            Ok(Ok(0) | Err(_)) => break true,
            Ok(Ok(n)) => {
                panic!("an answer to half a request: {}", String::from_utf8_lossy(&buf[..n]))
            }
        }
    };
    let elapsed = started.elapsed();
    assert!(closed, "the whole request went through at one byte a second");
    assert!(elapsed < Duration::from_secs(5), "cut off only after {elapsed:?}");
    assert!(sent < 6, "{sent} bytes sent before the cut");

    // An idle keep-alive connection is closed after the same timeout, freeing its slot.
    let mut idle = TcpStream::connect(served.addr).await?;
    let started = Instant::now();
    idle.write_all(
        format!("GET /style.css HTTP/1.1\r\nhost: {}\r\n\r\n", served.host()).as_bytes(),
    )
    .await?;
    let mut answered = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(8), idle.read_to_end(&mut answered)).await;
    assert!(read.is_ok(), "an idle keep-alive connection stayed open for 8 s");
    assert!(String::from_utf8_lossy(&answered).starts_with("HTTP/1.1 200"), "no answer first");
    assert!(started.elapsed() >= Duration::from_secs(2), "closed before the timeout");

    // A body that never comes: 408 once the body timeout passed.
    let started = Instant::now();
    let answer = served
        .raw(format!(
            "POST /api/relay/grant HTTP/1.1\r\nhost: {}\r\nx-ehr-token: {}\r\ncontent-type: \
             application/json\r\ncontent-length: 500\r\n\r\n{{\"grant\":",
            served.host(),
            served.token
        ))
        .await?;
    assert_eq!(answer.status, 408, "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // The server still serves others.
    assert_eq!(served.api("/api/deployment").await?.status, 200);
    Ok(())
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() -> eyre::Result<()> {
    let f = fixture().await?;
    let limits =
        Limits { max_connections: 2, header_timeout: Duration::from_secs(2), ..Limits::default() };
    let served = f.serve(ServeConfig { limits, ..ServeConfig::default() }).await?;
    // The token fetch above left no connection open. Two clients hold both slots, silent.
    let started = Instant::now();
    let _holders = [TcpStream::connect(served.addr).await?, TcpStream::connect(served.addr).await?];
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The third is answered only once the header timeout has closed a silent one.
    let answer = served.api("/api/deployment").await?;
    assert_eq!(answer.status, 200, "{answer:?}");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1800), "answered after {waited:?}: no limit");
    assert!(waited < Duration::from_secs(6), "answered only after {waited:?}");
    Ok(())
}

#[tokio::test]
async fn a_relay_not_yet_mined_does_not_hold_up_another_patients_relay() -> eyre::Result<()> {
    let f = fixture().await?;
    let served = f.serve(ServeConfig::default()).await?;
    let [alice, bob] = &f.patients;
    let first = f.signed(alice, f.doctor.address(), "lab").await?;
    let second = f.signed(bob, f.doctor.address(), "lab").await?;
    let before = f.pending_nonce().await?;
    f.rpc("evm_setAutomine", serde_json::json!([false])).await?;
    let client = served.client.clone();
    let stuck = tokio::spawn(async move { client.post("/api/relay/grant", &first).await });
    wait_for(|| async { Ok(f.pending_nonce().await? == before + 1) }).await?;
    // Alice's transaction sits in the pool unmined; Bob's relay is sent at the next nonce
    // straight away instead of waiting for her receipt.
    let client = served.client.clone();
    let next = tokio::spawn(async move { client.post("/api/relay/grant", &second).await });
    wait_for(|| async { Ok(f.pending_nonce().await? == before + 2) }).await?;
    assert!(!stuck.is_finished() && !next.is_finished());
    f.rpc("evm_mine", serde_json::json!([])).await?;
    f.rpc("evm_setAutomine", serde_json::json!([true])).await?;
    for answer in [stuck.await??, next.await??] {
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    Ok(())
}

#[tokio::test]
async fn an_unmined_relay_is_replaced_at_its_nonce_with_higher_fees_and_reported_when_none_is_mined()
-> eyre::Result<()> {
    let f = fixture().await?;
    let replacement = Replacement {
        wait: Duration::from_secs(2),
        replacements: 2,
        bump_percent: 10,
        ..Default::default()
    };
    let served = f.serve(ServeConfig { replacement, ..ServeConfig::default() }).await?;
    let [alice, bob] = &f.patients;
    let grant = f.signed(alice, f.doctor.address(), "lab").await?;
    let nonce = f.pending_nonce().await?;
    f.rpc("evm_setAutomine", serde_json::json!([false])).await?;
    let client = served.client.clone();
    let relay = tokio::spawn(async move { client.post("/api/relay/grant", &grant).await });
    wait_for(|| async { Ok(f.pooled(nonce).await?.is_some()) }).await?;
    let first = f.pooled(nonce).await?.expect("the first version");
    // The node drops it: without a replacement the relayer's nonce would stay unused, and
    // every later relay would queue behind it.
    f.rpc("anvil_dropAllTransactions", serde_json::json!([])).await?;
    wait_for(|| async { Ok(f.pooled(nonce).await?.is_some_and(|t| t.hash != first.hash)) }).await?;
    let second = f.pooled(nonce).await?.expect("a replacement");
    for (old, new, what) in
        [(first.max_fee, second.max_fee, "max fee"), (first.tip, second.tip, "priority fee")]
    {
        assert!(new * 100 >= old * 110, "{what}: {old} -> {new}, less than +10 %");
    }
    f.rpc("evm_mine", serde_json::json!([])).await?;
    let answer = relay.await??;
    assert_eq!(answer.status, 200, "{answer:?}");
    let mined: alloy::primitives::TxHash =
        answer.json()["tx"]["txHash"].as_str().unwrap_or_default().parse()?;
    assert_ne!(mined, first.hash, "the dropped version cannot be the one mined");
    assert_eq!(f.pending_nonce().await?, nonce + 1, "one nonce, one transaction");

    // No block comes at all: after the wait and both replacements, a 504 that names the nonce.
    let stuck = f.signed(bob, f.doctor.address(), "lab").await?;
    let started = Instant::now();
    let answer = served.post("/api/relay/grant", &stuck).await?;
    assert_eq!(answer.status, 504, "{answer:?}");
    let error = answer.error();
    assert!(
        error.contains(&format!("nonce {}", nonce + 1)) && error.contains("2 replacement(s)"),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(30), "waited {:?}", started.elapsed());
    assert!(f.pooled(nonce + 1).await?.is_some(), "the last version stays in the pool");
    f.rpc("evm_mine", serde_json::json!([])).await?;
    f.rpc("evm_setAutomine", serde_json::json!([true])).await?;
    Ok(())
}

/// Polls `check` for up to 10 s.
async fn wait_for<F, Fut>(check: F) -> eyre::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = eyre::Result<bool>>,
{
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if check().await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eyre::bail!("not within 10 s")
}
