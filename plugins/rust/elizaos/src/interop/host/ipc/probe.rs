//! [`PipeProbe`]: the pipe floor of the IPC benchmark.

use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::interop::host::pipe::{
    fd_of, kill_and_reap, set_nonblocking, wait_until, write_all_deadline, LineReader, ReadOutcome,
    StderrTail, WriteFailure,
};
use crate::interop::wire::DEFAULT_MAX_MESSAGE_BYTES;

/// The `cat` pipe ping-pong floor (protocol.md section 8 `benchPipe`): the
/// same spawn, write and line-reading machinery as the IPC connection of the loaders, without
/// JSON or request matching.
#[derive(Debug)]
pub struct PipeProbe {
    child: Child,
    stdin: Option<ChildStdin>,
    _stdout: ChildStdout,
    reader: LineReader,
    _stderr: StderrTail,
}

impl PipeProbe {
    /// The longest line [`PipeProbe::round_trip`] takes: below one pipe buffer (64 KiB on Linux),
    /// so the write never waits for the echo to be read.
    pub const MAX_LINE_BYTES: usize = 48 * 1024;

    /// Spawns `argv` (e.g. `["cat"]`) with piped stdio.
    pub fn spawn(argv: &[String]) -> std::io::Result<Self> {
        let (program, args) = argv.split_first().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "empty command")
        })?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let (Some(stdin), Some(stdout), Some(stderr)) = pipes else {
            kill_and_reap(&mut child);
            return Err(std::io::Error::other("missing stdio pipes"));
        };
        let setup =
            set_nonblocking(fd_of(&stdin)).and_then(|()| StderrTail::spawn(stderr, "probe"));
        let (tail, _handle) = match setup {
            Ok(t) => t,
            Err(e) => {
                kill_and_reap(&mut child);
                return Err(e);
            }
        };
        let reader = LineReader::new(fd_of(&stdout), DEFAULT_MAX_MESSAGE_BYTES);
        Ok(PipeProbe {
            child,
            stdin: Some(stdin),
            _stdout: stdout,
            reader,
            _stderr: tail,
        })
    }

    /// Writes `line` (which must end with `\n`) and reads one line back.
    ///
    /// The whole line is written before anything is read, so it must fit in what the two pipes
    /// hold together with the echo: a line over [`PipeProbe::MAX_LINE_BYTES`] is refused with
    /// `InvalidInput` at once (with `cat` it would fill both pipes and wait out `timeout`); time a
    /// longer line by writing it from another thread while this one reads.
    pub fn round_trip(&mut self, line: &[u8], timeout: Duration) -> std::io::Result<Vec<u8>> {
        if line.len() > Self::MAX_LINE_BYTES {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "a line of {} bytes exceeds PipeProbe::MAX_LINE_BYTES ({}): write it from \
                     another thread while reading the echo",
                    line.len(),
                    Self::MAX_LINE_BYTES
                ),
            ));
        }
        let deadline = Instant::now() + timeout;
        let fd = match self.stdin.as_ref() {
            Some(s) => fd_of(s),
            None => return Err(std::io::ErrorKind::BrokenPipe.into()),
        };
        match write_all_deadline(fd, line, Some(deadline)) {
            Ok(()) => {}
            Err(WriteFailure::TimedOut) => return Err(std::io::ErrorKind::TimedOut.into()),
            Err(WriteFailure::Io(e)) => return Err(e),
        }
        loop {
            match self.reader.read_line(Some(deadline))? {
                ReadOutcome::Line(l) => return Ok(l),
                ReadOutcome::TimedOut if Instant::now() >= deadline => {
                    return Err(std::io::ErrorKind::TimedOut.into())
                }
                ReadOutcome::TimedOut => {}
                ReadOutcome::Eof(_) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                ReadOutcome::TooLong { .. } => {
                    return Err(std::io::Error::other("line over the message limit"))
                }
            }
        }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes stdin, waits briefly, kills if needed, and reaps.
    pub fn close(mut self) -> Option<ExitStatus> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Option<ExitStatus> {
        self.stdin.take();
        match wait_until(&mut self.child, Duration::from_secs(2)) {
            Ok(Some(s)) => Some(s),
            _ => kill_and_reap(&mut self.child),
        }
    }
}

impl Drop for PipeProbe {
    fn drop(&mut self) {
        self.shutdown();
    }
}
