//! Pipe machinery shared by the IPC client and the `cat` floor benchmark:
//! line reading with `poll(2)` deadlines, non-blocking writes with deadlines,
//! a stderr drain thread keeping the last 64 KiB, and process reaping.
//!
//! Everything here runs on the calling thread (except the stderr drain), so
//! a request/response round trip costs no cross-thread wake-up.

use std::io;
use std::os::unix::io::{AsRawFd, RawFd};
use std::process::{Child, ChildStderr, ExitStatus};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How much of a child's stderr is kept for error messages.
pub const STDERR_TAIL_BYTES: usize = 64 * 1024;

/// Poll slice: the longest a reader sleeps before re-checking shared state.
const POLL_SLICE: Duration = Duration::from_millis(100);

/// Milliseconds to pass to `poll(2)` to wait until `deadline` (at most one slice).
fn poll_millis(deadline: Option<Instant>) -> libc::c_int {
    let slice = match deadline {
        None => POLL_SLICE,
        Some(d) => d.saturating_duration_since(Instant::now()).min(POLL_SLICE),
    };
    // Round up so a sub-millisecond remainder still waits instead of spinning.
    let ms = slice.as_micros().div_ceil(1000);
    ms as libc::c_int
}

/// Waits until `fd` is ready for `events`, for at most one poll slice and
/// never past `deadline`. Returns `Ok(true)` when ready (including hang-up or
/// error conditions, which the following read/write reports), `Ok(false)` when
/// the wait ended first; callers loop, re-checking their own state.
fn wait_fd(fd: RawFd, events: libc::c_short, deadline: Option<Instant>) -> io::Result<bool> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = poll_millis(deadline);
    // SAFETY: `pfd` is a valid pollfd for the duration of the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(false);
        }
        return Err(err);
    }
    Ok(rc > 0)
}

/// Outcome of one attempt to read a line.
#[derive(Debug)]
pub enum ReadOutcome {
    /// A complete line, without its `\n` (and without a `\r` before it).
    Line(Vec<u8>),
    /// The peer closed its end; any unterminated bytes are returned.
    Eof(Vec<u8>),
    /// The deadline (or one poll slice when there is none) passed first.
    TimedOut,
    /// The line being read is already longer than the limit.
    TooLong {
        /// Bytes seen so far without a newline.
        seen: usize,
        /// The first bytes of the line, for the error message.
        head: Vec<u8>,
    },
}

/// Reads newline-terminated messages from a pipe, on the calling thread.
#[derive(Debug)]
pub struct LineReader {
    fd: RawFd,
    buf: Vec<u8>,
    /// Bytes before `scanned` are known to contain no newline.
    scanned: usize,
    max_line: usize,
}

impl LineReader {
    /// Wraps a readable pipe fd. The caller keeps the fd open while the reader lives.
    pub fn new(fd: RawFd, max_line: usize) -> Self {
        LineReader {
            fd,
            buf: Vec::with_capacity(64 * 1024),
            scanned: 0,
            max_line,
        }
    }

    /// Takes one complete line out of the buffer, if there is one.
    fn take_line(&mut self) -> Option<Vec<u8>> {
        let pos = memchr::memchr(b'\n', &self.buf[self.scanned..])? + self.scanned;
        let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        self.scanned = 0;
        Some(line)
    }

    /// Reads until a complete line, EOF, an oversize line, or the end of one
    /// poll slice (at most 100 ms, never past `deadline`).
    pub fn read_line(&mut self, deadline: Option<Instant>) -> io::Result<ReadOutcome> {
        loop {
            if let Some(line) = self.take_line() {
                if line.len() > self.max_line {
                    return Ok(ReadOutcome::TooLong {
                        seen: line.len(),
                        head: line[..line.len().min(super::error::EXCERPT_BYTES)].to_vec(),
                    });
                }
                return Ok(ReadOutcome::Line(line));
            }
            self.scanned = self.buf.len();
            if self.buf.len() > self.max_line {
                return Ok(ReadOutcome::TooLong {
                    seen: self.buf.len(),
                    head: self.buf[..super::error::EXCERPT_BYTES].to_vec(),
                });
            }
            if !wait_fd(self.fd, libc::POLLIN, deadline)? {
                return Ok(ReadOutcome::TimedOut);
            }
            let len = self.buf.len();
            let want = 64 * 1024;
            self.buf.reserve(want);
            // SAFETY: the spare capacity is at least `want` bytes, and `read`
            // writes at most that many; we only extend the length by what it wrote.
            let n = unsafe {
                libc::read(
                    self.fd,
                    self.buf.as_mut_ptr().add(len) as *mut libc::c_void,
                    want,
                )
            };
            if n < 0 {
                let err = io::Error::last_os_error();
                match err.kind() {
                    io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock => continue,
                    _ => return Err(err),
                }
            }
            if n == 0 {
                let rest = std::mem::take(&mut self.buf);
                self.scanned = 0;
                return Ok(ReadOutcome::Eof(rest));
            }
            // SAFETY: `read` initialised `n` bytes after `len`.
            unsafe { self.buf.set_len(len + n as usize) };
        }
    }
}

/// Why a write did not complete.
#[derive(Debug)]
pub enum WriteFailure {
    /// The deadline passed before the whole message was written (the
    /// stream may now be mid-message).
    TimedOut,
    /// The pipe is broken (the child closed stdin or exited) or another I/O error.
    Io(io::Error),
}

/// Puts `fd` in non-blocking mode so writes can honour a deadline.
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: plain fcntl calls on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Writes all of `data` to the non-blocking `fd`, waiting with `poll(2)`
/// while the pipe is full, until `deadline`.
pub fn write_all_deadline(
    fd: RawFd,
    data: &[u8],
    deadline: Option<Instant>,
) -> Result<(), WriteFailure> {
    let mut written = 0;
    while written < data.len() {
        // SAFETY: the pointer/length pair stays within `data`.
        let n = unsafe {
            libc::write(
                fd,
                data.as_ptr().add(written) as *const libc::c_void,
                data.len() - written,
            )
        };
        if n >= 0 {
            written += n as usize;
            continue;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => {
                let ready = wait_fd(fd, libc::POLLOUT, deadline).map_err(WriteFailure::Io)?;
                if !ready {
                    if let Some(d) = deadline {
                        if Instant::now() >= d {
                            return Err(WriteFailure::TimedOut);
                        }
                    }
                }
            }
            _ => return Err(WriteFailure::Io(err)),
        }
    }
    Ok(())
}

/// The last [`STDERR_TAIL_BYTES`] of a child's stderr, filled by a drain thread.
#[derive(Debug, Default)]
struct TailState {
    bytes: Vec<u8>,
    done: bool,
}

/// Handle on the stderr drain thread's buffer.
#[derive(Debug, Clone)]
pub struct StderrTail {
    inner: Arc<(Mutex<TailState>, Condvar)>,
}

impl StderrTail {
    /// Starts a thread that reads `stderr` until EOF, so a chatty plugin never
    /// blocks on a full pipe, keeping only the last 64 KiB.
    pub fn spawn(
        mut stderr: ChildStderr,
        label: &str,
    ) -> io::Result<(Self, thread::JoinHandle<()>)> {
        let tail = StderrTail {
            inner: Arc::new((Mutex::new(TailState::default()), Condvar::new())),
        };
        let shared = tail.clone();
        let handle = thread::Builder::new()
            .name(format!("stderr-{label}"))
            .spawn(move || {
                use std::io::Read;
                let mut chunk = vec![0u8; 16 * 1024];
                loop {
                    match stderr.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => {
                            let (lock, _) = &*shared.inner;
                            let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
                            st.bytes.extend_from_slice(&chunk[..n]);
                            if st.bytes.len() > STDERR_TAIL_BYTES {
                                let cut = st.bytes.len() - STDERR_TAIL_BYTES;
                                st.bytes.drain(..cut);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
                let (lock, cvar) = &*shared.inner;
                lock.lock().unwrap_or_else(|e| e.into_inner()).done = true;
                cvar.notify_all();
            })?;
        Ok((tail, handle))
    }

    /// The tail as text, after waiting up to `wait` for the drain to reach EOF
    /// (so the last words of a crashed child are included).
    pub fn text(&self, wait: Duration) -> String {
        let (lock, cvar) = &*self.inner;
        let deadline = Instant::now() + wait;
        let mut st = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !st.done {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = cvar
                .wait_timeout(st, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        String::from_utf8_lossy(&st.bytes).into_owned()
    }
}

/// Waits up to `wait` for `child` to exit on its own; `None` if it is still running.
pub fn wait_until(child: &mut Child, wait: Duration) -> io::Result<Option<ExitStatus>> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_micros(200);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Sends `signal` to the child if it has not been reaped yet.
pub fn signal_child(child: &mut Child, signal: libc::c_int) {
    if let Ok(None) = child.try_wait() {
        // SAFETY: the pid belongs to our unreaped child, so it cannot have been recycled.
        unsafe {
            libc::kill(child.id() as libc::pid_t, signal);
        }
    }
}

/// Kills the child with SIGKILL (if still running) and reaps it.
pub fn kill_and_reap(child: &mut Child) -> Option<ExitStatus> {
    signal_child(child, libc::SIGKILL);
    child.wait().ok()
}

/// Raw fd of a child pipe end.
pub fn fd_of<T: AsRawFd>(pipe: &T) -> RawFd {
    pipe.as_raw_fd()
}
