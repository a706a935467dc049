//! One long-running child process (anvil or kubo) and how it is stopped.
//!
//! Services are stopped by PID with SIGTERM first, so anvil can dump its `--state` file and
//! kubo can close its repository, then SIGKILL if they do not exit in time.

use crate::{Error, Result};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a service gets to exit after SIGTERM before it is killed.
const GRACE: Duration = Duration::from_secs(10);

/// Whether a service lives and dies with the process that started it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lifetime {
    /// Stopped when its handle is dropped, and killed by the kernel if the starting process
    /// dies first (tests: a panicking or killed test leaves nothing running).
    #[default]
    Tied,
    /// Runs in its own session and survives the starting process (`ehr dev up`); stop it
    /// later with [`stop_pid`].
    Detached,
}

/// A started service process, with its log file.
#[derive(Debug)]
pub struct ServiceProcess {
    name: &'static str,
    child: Option<Child>,
    pid: u32,
    log_path: PathBuf,
}

impl ServiceProcess {
    /// Starts `command` with stdout and stderr appended to `log_path`.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        log_path: &Path,
        lifetime: Lifetime,
    ) -> Result<Self> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(log_path)
            .map_err(|e| Error::io(format!("opening {}", log_path.display()), e))?;
        let log_err = log.try_clone().map_err(|e| Error::io("duplicating the log handle", e))?;
        command.stdin(Stdio::null()).stdout(log).stderr(log_err);
        match lifetime {
            // SAFETY: prctl and setsid are async-signal-safe and touch no memory of ours.
            Lifetime::Tied => unsafe {
                command.pre_exec(|| {
                    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            },
            Lifetime::Detached => unsafe {
                command.pre_exec(|| {
                    if libc::setsid() < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            },
        }
        let program = PathBuf::from(command.get_program());
        let child = command.spawn().map_err(|source| Error::Spawn { program, source })?;
        let pid = child.id();
        let child = match lifetime {
            Lifetime::Tied => Some(child),
            // A detached service is reaped by init once we exit; we keep no handle to it.
            Lifetime::Detached => None,
        };
        Ok(Self { name, child, pid, log_path: log_path.to_path_buf() })
    }

    /// The service's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The file its stdout and stderr go to.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The exit status, if the process has already exited.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// The last `lines` lines of its log, for error messages.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log_path, lines)
    }

    /// Stops the process: SIGTERM, up to 10 s of grace, then SIGKILL.
    pub fn stop(&mut self) -> Result<()> {
        match self.child.take() {
            Some(mut child) => stop_child(&mut child),
            None => stop_pid(self.pid),
        }
    }

    /// Leaves the process running after this handle is dropped; returns its PID.
    pub fn detach(mut self) -> u32 {
        self.child = None;
        self.pid
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        // Only a process we still own is stopped here; a detached one is left running.
        if let Some(mut child) = self.child.take() {
            let _ = stop_child(&mut child);
        }
    }
}

fn stop_child(child: &mut Child) -> Result<()> {
    if child.try_wait().ok().flatten().is_some() {
        return Ok(());
    }
    send_signal(child.id(), libc::SIGTERM)?;
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline {
        if child.try_wait().ok().flatten().is_some() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().map_err(|e| Error::io("waiting for a killed service", e))?;
    Ok(())
}

/// Stops a process that is not our child (a detached service) by PID: SIGTERM, up to 10 s of
/// grace, then SIGKILL. A PID that no longer exists counts as stopped.
pub fn stop_pid(pid: u32) -> Result<()> {
    if !is_alive(pid) {
        return Ok(());
    }
    send_signal(pid, libc::SIGTERM)?;
    for signal in [None, Some(libc::SIGKILL)] {
        if let Some(signal) = signal {
            send_signal(pid, signal)?;
        }
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if !is_alive(pid) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    Err(Error::StillRunning { pid })
}

fn is_alive(pid: u32) -> bool {
    // SAFETY: signal 0 only checks that the process exists and may be signalled.
    let ret = unsafe { libc::kill(pid as libc::pid_t, 0) };
    if ret != 0 {
        return false;
    }
    // A zombie still "exists"; it has exited for our purposes.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false)
}

fn send_signal(pid: u32, signal: libc::c_int) -> Result<()> {
    // SAFETY: kill(2) with a plain pid and signal number.
    if unsafe { libc::kill(pid as libc::pid_t, signal) } == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::ESRCH) {
        return Ok(());
    }
    Err(Error::Signal { pid, source: err })
}

pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    const MAX_BYTES: u64 = 16 * 1024;
    let Ok(mut file) = File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
