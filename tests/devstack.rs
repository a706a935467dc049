//! The local stack harness against the real binaries: anvil and kubo start on loopback, answer,
//! keep the chain across a restart, and are gone once their handle is dropped — also when the
//! code holding them panics.

use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use ehrkit_tests::devstack::{DevStack, StackOptions};
use std::time::{Duration, Instant};

fn process_exists(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Field 3 is the state; a zombie has exited.
        Ok(stat) => !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

fn wait_gone(pid: u32) -> bool {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if !process_exists(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[tokio::test]
async fn anvil_and_kubo_answer_on_loopback() -> eyre::Result<()> {
    let stack = DevStack::start(StackOptions { kubo: true, ..Default::default() }).await?;
    let provider = ProviderBuilder::new().connect_http(stack.anvil().rpc_url());
    assert_eq!(provider.get_chain_id().await?, 31337);
    assert_eq!(stack.anvil().rpc_url().host_str(), Some("127.0.0.1"));

    let kubo = stack.kubo().expect("kubo was requested");
    let version: serde_json::Value = reqwest::Client::new()
        .post(kubo.api_url().join("/api/v0/version")?)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    assert_eq!(version["Version"], "0.41.0", "kubo answered {version}");
    assert_eq!(kubo.version(), "0.41.0");
    assert_eq!(kubo.api_url().host_str(), Some("127.0.0.1"));
    assert_ne!(kubo.api_url().port(), kubo.gateway_url().port());
    Ok(())
}

#[tokio::test]
async fn anvil_restart_keeps_the_chain() -> eyre::Result<()> {
    let mut stack = DevStack::start(StackOptions::default()).await?;
    let account = Address::repeat_byte(0x42);
    stack.anvil().set_balance(&account.to_string(), 1_234_567).await?;
    let provider = ProviderBuilder::new().connect_http(stack.anvil().rpc_url());
    let _: serde_json::Value = provider.raw_request("anvil_mine".into(), (5u64,)).await?;
    let height = provider.get_block_number().await?;
    assert!(height >= 5);
    let old_pid = stack.anvil().pid();

    stack.anvil_mut().restart().await?;

    assert_ne!(stack.anvil().pid(), old_pid, "a new process serves the chain");
    assert!(!process_exists(old_pid));
    let provider = ProviderBuilder::new().connect_http(stack.anvil().rpc_url());
    assert_eq!(provider.get_balance(account).await?, U256::from(1_234_567u64));
    assert_eq!(provider.get_block_number().await?, height);
    Ok(())
}

#[tokio::test]
async fn dropping_the_stack_stops_both_processes() -> eyre::Result<()> {
    let stack = DevStack::start(StackOptions { kubo: true, ..Default::default() }).await?;
    let pids = [stack.anvil().pid(), stack.kubo().expect("kubo").pid()];
    let dir = stack.dir().to_path_buf();
    assert!(pids.iter().all(|&pid| process_exists(pid)));
    drop(stack);
    for pid in pids {
        assert!(wait_gone(pid), "process {pid} still runs after the stack was dropped");
    }
    assert!(!dir.exists(), "the temporary directory {} was removed", dir.display());
    Ok(())
}

#[tokio::test]
async fn a_panicking_test_leaves_nothing_running() -> eyre::Result<()> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let stack = DevStack::start(StackOptions { kubo: true, ..Default::default() })
            .await
            .expect("stack starts");
        tx.send([stack.anvil().pid(), stack.kubo().expect("kubo").pid()]).expect("receiver waits");
        panic!("a test failing while it holds the stack");
    });
    let pids = rx.await?;
    let outcome = task.await;
    assert!(outcome.expect_err("the task panicked").is_panic());
    for pid in pids {
        assert!(wait_gone(pid), "process {pid} outlived the panicking task");
    }
    Ok(())
}
