//! The IPC server of protocol.md section 3: newline-delimited JSON-RPC over stdin/stdout.
//!
//! Requests are answered one at a time, in order (allowed by 3.4). Every response is written in
//! one buffered write and flushed. `shutdown` answers `{}` and returns; stdin EOF returns. Bad lines
//! get -32700/-32600 and the server keeps serving; a line over the size limit is discarded and
//! answered with `{"id": null, "error": {"code": -32600, "message": "request exceeds N bytes"}}`.

use crate::interop::export::{Bridge, Transport};
use crate::interop::plugin::Plugin;
use crate::interop::protocol::{methods, parse_request, RpcError, DEFAULT_MAX_MESSAGE_BYTES};
use serde::Serialize;
use serde_json::Value;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

/// Environment variable that overrides the request size limit (bytes) of [`serve`].
pub const MAX_MESSAGE_BYTES_ENV: &str = "ELIZAOS_MAX_MESSAGE_BYTES";

/// Server settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Largest request line accepted, in bytes, excluding the line terminator.
    pub max_message_bytes: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        }
    }
}

impl ServeOptions {
    /// Defaults, with `ELIZAOS_MAX_MESSAGE_BYTES` applied when it is set. An unparsable value is
    /// an error naming the variable and the value.
    pub fn from_env() -> Result<Self, String> {
        let mut options = ServeOptions::default();
        if let Ok(raw) = std::env::var(MAX_MESSAGE_BYTES_ENV) {
            options.max_message_bytes = raw
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!("{MAX_MESSAGE_BYTES_ENV} must be a positive integer, received {raw:?}")
                })?;
        }
        Ok(options)
    }
}

/// Why [`serve_on`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeEnd {
    /// A `shutdown` request was answered.
    Shutdown,
    /// stdin reached end of file.
    Eof,
}

/// One line read by [`read_line_limited`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineRead {
    /// A line is in the buffer (terminator removed; a final unterminated line counts).
    Line,
    /// The line exceeded the limit and was discarded up to its terminator.
    Oversize,
    /// End of input.
    Eof,
}

/// Read one `\n`-terminated line into `buf` (cleared first) without ever holding more than
/// `limit` bytes of it. A trailing `\r` is left for the request parser, which tolerates it.
pub fn read_line_limited<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<LineRead> {
    buf.clear();
    let mut oversize = false;
    let mut seen_any = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(if seen_any {
                finish(buf, oversize, limit)
            } else {
                LineRead::Eof
            });
        }
        seen_any = true;
        let (part, found) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (&chunk[..i], Some(i)),
            None => (chunk, None),
        };
        // The limit applies to the line's content: one byte of slack for a tolerated `\r`,
        // checked exactly once the line is complete.
        if !oversize {
            if buf.len() + part.len() > limit.saturating_add(1) {
                oversize = true;
                buf.clear();
            } else {
                buf.extend_from_slice(part);
            }
        }
        let consumed = found.map_or(chunk.len(), |i| i + 1);
        reader.consume(consumed);
        if found.is_some() {
            return Ok(finish(buf, oversize, limit));
        }
    }
}

/// Classify a complete line: over the limit (not counting a final `\r`) is discarded.
fn finish(buf: &mut Vec<u8>, oversize: bool, limit: usize) -> LineRead {
    let content = buf.len() - usize::from(buf.last() == Some(&b'\r'));
    if oversize || content > limit {
        buf.clear();
        LineRead::Oversize
    } else {
        LineRead::Line
    }
}

/// A response serialised without cloning the result value.
#[derive(Serialize)]
struct ResponseOut<'a> {
    id: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Value>,
}

fn write_response<W: Write>(
    out: &mut W,
    id: &Value,
    outcome: &Result<Value, RpcError>,
) -> io::Result<()> {
    let response = match outcome {
        Ok(v) => ResponseOut {
            id,
            result: Some(v),
            error: None,
        },
        Err(e) => ResponseOut {
            id,
            result: None,
            error: Some(e.to_value()),
        },
    };
    serde_json::to_writer(&mut *out, &response).map_err(io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Serve `plugin` over `input`/`output` until `shutdown` or EOF (the testable core of [`serve`]).
pub fn serve_on<P: Plugin, R: BufRead, W: Write>(
    plugin: P,
    input: &mut R,
    output: &mut W,
    options: ServeOptions,
) -> io::Result<ServeEnd> {
    let mut bridge = Bridge::new(plugin, Transport::Ipc);
    let mut line = Vec::new();
    loop {
        match read_line_limited(input, &mut line, options.max_message_bytes)? {
            LineRead::Eof => return Ok(ServeEnd::Eof),
            LineRead::Oversize => {
                write_response(
                    output,
                    &Value::Null,
                    &Err(RpcError::oversize(options.max_message_bytes)),
                )?;
            }
            LineRead::Line => {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue; // blank lines carry no request
                }
                match parse_request(&line) {
                    Err(bad) => write_response(output, &bad.id, &Err(bad.error))?,
                    Ok(request) => {
                        let outcome = bridge.dispatch(&request.method, &request.params);
                        write_response(output, &request.id, &outcome)?;
                        if request.method == methods::SHUTDOWN {
                            return Ok(ServeEnd::Shutdown);
                        }
                    }
                }
            }
        }
    }
}

/// Make fd 1 an alias of stderr and return a handle on the original stdout, so that `println!`
/// in plugin code cannot corrupt the protocol stream (section 3.1: stdout carries protocol only).
#[cfg(unix)]
fn protocol_stdout() -> io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: plain descriptor calls on fds 1 and 2, which the process owns.
    let fd = unsafe { libc::dup(1) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::dup2(2, 1) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor owned by nobody else.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Serve `plugin` over stdin/stdout (section 3) and return the process exit code: 0 after
/// `shutdown` or stdin EOF (also when the host closed our stdout), 1 on an I/O or setup error
/// (reported on stderr). Typical use: `fn main() -> ExitCode { serve(MyPlugin::new()) }`.
pub fn serve<P: Plugin>(plugin: P) -> ExitCode {
    let options = match ServeOptions::from_env() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("elizaos: {e}");
            return ExitCode::from(1);
        }
    };
    #[cfg(unix)]
    let out = match protocol_stdout() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("elizaos: cannot set up the protocol stdout: {e}");
            return ExitCode::from(1);
        }
    };
    #[cfg(not(unix))]
    let out = io::stdout();
    let mut output = BufWriter::with_capacity(64 * 1024, out);
    let mut input = BufReader::with_capacity(64 * 1024, io::stdin().lock());
    match serve_on(plugin, &mut input, &mut output, options) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("elizaos: IPC server stopped: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn lines(input: &[u8], limit: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut r = BufReader::with_capacity(4, Cursor::new(input.to_vec()));
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let got = read_line_limited(&mut r, &mut buf, limit);
            let got = match got {
                Ok(g) => g,
                Err(e) => panic!("read failed: {e}"),
            };
            out.push((got, buf.clone()));
            if got == LineRead::Eof {
                return out;
            }
        }
    }

    #[test]
    fn limited_reader_splits_discards_and_tolerates_cr() {
        let got = lines(b"abc\n0123456789\nxy\r\nlast", 5);
        assert_eq!(
            got,
            vec![
                (LineRead::Line, b"abc".to_vec()),
                (LineRead::Oversize, vec![]),
                (LineRead::Line, b"xy\r".to_vec()),
                (LineRead::Line, b"last".to_vec()),
                (LineRead::Eof, vec![]),
            ]
        );
        // Exactly at the limit is accepted, with or without \r.
        assert_eq!(
            lines(b"12345\n12345\r\n", 5)[..2],
            [
                (LineRead::Line, b"12345".to_vec()),
                (LineRead::Line, b"12345\r".to_vec())
            ]
        );
        assert_eq!(lines(b"123456", 5)[0].0, LineRead::Oversize);
        assert_eq!(lines(b"123456\r\n", 5)[0].0, LineRead::Oversize);
        assert_eq!(lines(b"\r\r\r\r\r\r\r\n", 5)[0].0, LineRead::Oversize);
    }
}
