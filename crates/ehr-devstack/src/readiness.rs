//! Waiting until a freshly started service answers.

use crate::process::ServiceProcess;
use crate::{Error, Result};
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a service may take to answer after it was started.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Polls `probe` until it returns `Some`, the process exits, or the timeout passes.
pub(crate) async fn wait_until_ready<T, F, Fut>(
    process: &mut ServiceProcess,
    url: &str,
    mut probe: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    let mut delay = Duration::from_millis(10);
    loop {
        if let Some(value) = probe().await {
            return Ok(value);
        }
        if let Some(status) = process.exited() {
            return Err(Error::ExitedEarly {
                service: process.name(),
                status,
                log_tail: process.log_tail(20),
            });
        }
        if started.elapsed() > START_TIMEOUT {
            return Err(Error::NotReady {
                service: process.name(),
                url: url.to_owned(),
                seconds: START_TIMEOUT.as_secs(),
                log_tail: process.log_tail(20),
            });
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

/// A client for readiness probes: short timeouts, no proxies (loopback only).
pub(crate) fn probe_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("a reqwest client with static settings always builds")
}
