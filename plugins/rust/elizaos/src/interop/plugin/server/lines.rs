//! Reading request lines with a size limit: a longer line is discarded, never held whole.

use std::io::{self, BufRead};

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
pub fn read_line_limited<R: BufRead + ?Sized>(
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
        let (part, found) = match memchr::memchr(b'\n', chunk) {
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
