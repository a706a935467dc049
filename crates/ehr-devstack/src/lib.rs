#![doc = include_str!("../README.md")]

mod anvil;
mod error;
mod kubo;
mod ports;
mod process;
mod readiness;
mod stack;
mod tools;

pub use anvil::{AnvilNode, AnvilOptions, DEV_CHAIN_ID};
pub use error::{Error, Result};
pub use kubo::{KuboNode, KuboOptions};
pub use process::{Lifetime, ServiceProcess, stop_pid};
pub use stack::{DevStack, StackOptions};
pub use tools::{Tool, find_tool};
