//! The accept loop: at most `max_connections` served at once, headers within
//! `header_timeout` (hyper's timer; it also ends idle keep-alive connections), bodies within
//! `body_timeout` ([`crate::response::read_json`]).

use crate::Server;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

impl Server {
    /// Serves HTTP/1.1 on `listener` until the task is dropped.
    pub async fn run(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        let limits = self.limits;
        let slots = Arc::new(Semaphore::new(limits.max_connections));
        loop {
            // Wait for a free slot before accepting: excess connections queue in the backlog.
            let slot = slots.clone().acquire_owned().await.expect("the semaphore is never closed");
            let (stream, peer) = listener.accept().await?;
            let server = self.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.handle(req).await) }
                });
                let result = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(limits.header_timeout)
                    .max_buf_size(limits.max_body.max(8192))
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
            });
        }
    }
}
