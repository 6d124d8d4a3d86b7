//! One server process, a child of the caller, known by its PID.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::probe::Probe;

/// How long [`Server::stop`] waits after TERM before it sends KILL.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The signals a test sends a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Freezes it: the process is there, its port accepts, nothing answers.
    Stop,
    /// Thaws a [`Signal::Stop`]ped one.
    Cont,
    /// Asks it to end.
    Term,
    /// Ends it at once.
    Kill,
}

impl Signal {
    pub fn number(self) -> libc::c_int {
        match self {
            Signal::Stop => libc::SIGSTOP,
            Signal::Cont => libc::SIGCONT,
            Signal::Term => libc::SIGTERM,
            Signal::Kill => libc::SIGKILL,
        }
    }
}

/// `kill(pid, sig)`; an error if there is no such process.
pub fn send(pid: u32, sig: libc::c_int) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| std::io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) takes plain integers; a positive pid names one process.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A server started by this process: its program and arguments (so it can be started again),
/// its log, and how to tell that it answers. Dropping it kills it (SIGKILL) and reaps it.
#[derive(Debug)]
pub struct Server {
    what: String,
    program: PathBuf,
    args: Vec<String>,
    dir: Option<PathBuf>,
    log: PathBuf,
    probe: Probe,
    child: Option<Child>,
    /// Processes it starts in sessions of their own, told by this text in their command
    /// lines; killed after it (LocalStack's DynamoDB Local).
    strays: Option<String>,
}

impl Server {
    /// Starts `program args` (in `dir` if given), stdout and stderr appended to `log`, in a
    /// process group of its own (a Ctrl-C at the terminal does not reach it).
    pub fn spawn(
        what: impl Into<String>,
        program: impl Into<PathBuf>,
        args: Vec<String>,
        dir: Option<PathBuf>,
        log: impl Into<PathBuf>,
        probe: Probe,
    ) -> anyhow::Result<Server> {
        let mut server = Server {
            what: what.into(),
            program: program.into(),
            args,
            dir,
            log: log.into(),
            probe,
            child: None,
            strays: None,
        };
        server.start()?;
        Ok(server)
    }

    fn start(&mut self) -> anyhow::Result<()> {
        if let Some(parent) = self.log.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let child = command
            .spawn()
            .with_context(|| format!("{}: starting {}", self.what, self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// Also ends, whenever it is stopped or killed, the processes whose command lines contain
    /// `marker` (children it started in sessions of their own, which outlive it).
    pub fn with_strays(mut self, marker: impl Into<String>) -> Self {
        self.strays = Some(marker.into());
        self
    }

    /// What it is, e.g. "DynamoDB Local on 8700".
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Its PID; `None` once it has been stopped or killed.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        self.probe.port()
    }

    /// How [`wait_ready`](Self::wait_ready) tells that it answers.
    pub fn probe(&self) -> Probe {
        self.probe
    }

    /// Its log file (stdout and stderr of every start, appended).
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// The program and arguments it was started with.
    pub fn command_line(&self) -> (&Path, &[String]) {
        (&self.program, &self.args)
    }

    /// `kill -SIG PID`.
    pub fn signal(&self, sig: Signal) -> anyhow::Result<()> {
        let pid = self
            .pid()
            .with_context(|| format!("{}: not running", self.what))?;
        send(pid, sig.number()).with_context(|| format!("{}: kill -{sig:?} {pid}", self.what))
    }

    /// SIGSTOP: frozen, its connections stay open and unanswered.
    pub fn pause(&self) -> anyhow::Result<()> {
        self.signal(Signal::Stop)
    }

    /// SIGCONT after [`pause`](Self::pause).
    pub fn resume(&self) -> anyhow::Result<()> {
        self.signal(Signal::Cont)
    }

    /// Sends `sig` and waits for the process to end, with SIGKILL after [`STOP_TIMEOUT`]; then
    /// it is reaped. Nothing if it is not running.
    pub fn stop_with(&mut self, sig: Signal) -> anyhow::Result<()> {
        let Some(child) = self.child.as_mut() else {
            return Ok(());
        };
        if child.try_wait()?.is_none() {
            // A paused process does not act on TERM until it runs again.
            let _ = send(child.id(), libc::SIGCONT);
            let _ = send(child.id(), sig.number());
            let deadline = Instant::now() + STOP_TIMEOUT;
            while child.try_wait()?.is_none() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill()
    }

    /// TERM, then KILL after [`STOP_TIMEOUT`].
    pub fn stop(&mut self) -> anyhow::Result<()> {
        self.stop_with(Signal::Term)
    }

    /// SIGKILL, and reaped; nothing if it already ended.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            if child.try_wait()?.is_none() {
                let _ = child.kill();
            }
            child
                .wait()
                .with_context(|| format!("{}: reaping it", self.what))?;
        }
        if let Some(marker) = &self.strays {
            crate::named::kill_matching(marker);
        }
        Ok(())
    }

    /// Starts it again with the same program, arguments and log, killing it first if it still
    /// runs. Call [`wait_ready`](Self::wait_ready) after.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.kill()?;
        self.start()
    }

    /// `Ok` while it runs; an error, with the end of its log, once it has ended.
    pub fn check_running(&mut self) -> anyhow::Result<()> {
        let Some(child) = self.child.as_mut() else {
            bail!("{}: not running (stopped or killed)", self.what);
        };
        if let Some(status) = child.try_wait()? {
            bail!(
                "{} exited ({status}); the end of {}:\n{}",
                self.what,
                self.log.display(),
                log_tail(&self.log, 30)
            );
        }
        Ok(())
    }

    /// One probe: does it answer now?
    pub fn answers(&self) -> bool {
        self.probe.answers()
    }

    /// Blocks until it answers, and says how long that took; an error, with its log, if it
    /// exits first or does not answer within `timeout`.
    pub fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        loop {
            self.check_running()?;
            if self.probe.answers() {
                return Ok(t0.elapsed());
            }
            self.check_deadline(t0, timeout)?;
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// [`wait_ready`](Self::wait_ready) for async callers: probes on the blocking pool and
    /// sleeps with tokio, so the runtime's workers keep serving meanwhile.
    #[cfg(feature = "tokio")]
    pub async fn wait_ready_async(&mut self, timeout: Duration) -> anyhow::Result<Duration> {
        let t0 = Instant::now();
        loop {
            self.check_running()?;
            let probe = self.probe;
            if tokio::task::spawn_blocking(move || probe.answers()).await? {
                return Ok(t0.elapsed());
            }
            self.check_deadline(t0, timeout)?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn check_deadline(&self, t0: Instant, timeout: Duration) -> anyhow::Result<()> {
        if t0.elapsed() > timeout {
            bail!(
                "{} did not answer within {timeout:?}; the end of {}:\n{}",
                self.what,
                self.log.display(),
                log_tail(&self.log, 30)
            );
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// The last `lines` lines of a log (at most its last 64 KiB), for an error message.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let Ok(mut file) = File::open(path) else {
        return format!("({} cannot be read)", path.display());
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(64 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(dir: &Path) -> Server {
        Server::spawn(
            "sleep",
            "sleep",
            vec!["30".into()],
            None,
            dir.join("sleep.log"),
            Probe::Tcp(1),
        )
        .unwrap()
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("stack-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn state(pid: u32) -> Option<char> {
        crate::named::proc_state(pid)
    }

    #[test]
    fn pause_resume_stop_and_restart_act_on_the_process() {
        let dir = temp("server");
        let mut s = sleeper(&dir);
        let pid = s.pid().unwrap();
        s.check_running().unwrap();
        s.pause().unwrap();
        // The state shows in /proc once the kernel has acted on the signal.
        let t0 = Instant::now();
        while state(pid) != Some('T') && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(state(pid), Some('T'));
        s.resume().unwrap();
        // TERM reaches a paused process too; sleep ends on it, long before STOP_TIMEOUT.
        s.pause().unwrap();
        let t0 = Instant::now();
        s.stop().unwrap();
        assert!(t0.elapsed() < STOP_TIMEOUT);
        assert!(s.pid().is_none());
        assert!(s.check_running().is_err());
        s.restart().unwrap();
        assert_ne!(s.pid(), None);
        s.check_running().unwrap();
        let pid = s.pid().unwrap();
        drop(s);
        assert_eq!(state(pid), None, "dropped and reaped");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_server_that_exits_fails_its_wait_with_its_log() {
        let dir = temp("exits");
        let mut s = Server::spawn(
            "echo",
            "sh",
            vec!["-c".into(), "echo the-last-words; exit 3".into()],
            None,
            dir.join("echo.log"),
            Probe::Tcp(1),
        )
        .unwrap();
        let err = s.wait_ready(Duration::from_secs(10)).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("the-last-words"), "{text}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let dir = temp("tail");
        let log = dir.join("x.log");
        std::fs::write(&log, "1\n2\n3\n4\n").unwrap();
        assert_eq!(log_tail(&log, 2), "3\n4");
        assert!(log_tail(&dir.join("missing"), 2).contains("cannot be read"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
