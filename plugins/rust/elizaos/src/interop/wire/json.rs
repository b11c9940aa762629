//! The JSON writer of the hot paths: byte for byte `serde_json::to_writer`, faster on strings.

use serde_json::Value;

/// Serialise a `Value` into `out`, byte for byte as `serde_json::to_writer` does (compact, keys
/// in map order, the same escapes). Strings are scanned eight bytes at a time for characters that
/// need escaping, which serde_json does one byte at a time: string escaping was the largest single
/// cost of serialising a result. Numbers are written by serde_json itself.
pub fn write_json(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Writing a Number to a Vec cannot fail.
        Value::Number(n) => {
            let _ = serde_json::to_writer(&mut *out, n);
        }
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_str(out, key);
                out.push(b':');
                write_json(out, item);
            }
            out.push(b'}');
        }
    }
}

/// The high bit of each of the eight bytes of `word` that is a control character, `"` or `\\`
/// (and maybe of a byte above one that is: zero means none is).
#[inline(always)]
fn escape_bits(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_bits = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    // A byte below 0x20 (exact as a yes/no answer for thresholds up to 0x80).
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    control
        | zero_bits(word ^ (ONES * u64::from(b'"')))
        | zero_bits(word ^ (ONES * u64::from(b'\\')))
}

/// The eight bytes at `i` as a little-endian word (the caller checked `i + 8 <= bytes.len()`).
#[inline(always)]
fn word_at(bytes: &[u8], i: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[i..i + 8]);
    u64::from_le_bytes(word)
}

/// The end of the run of bytes from `i` that need no escape, found 32 then 8 bytes at a time;
/// the returned index is the length, or a byte the caller looks at one by one.
#[inline]
fn plain_run_end(bytes: &[u8], mut i: usize) -> usize {
    // Four words per step with one branch: the compiler keeps them in vector registers.
    while i + 32 <= bytes.len() {
        let bits = escape_bits(word_at(bytes, i))
            | escape_bits(word_at(bytes, i + 8))
            | escape_bits(word_at(bytes, i + 16))
            | escape_bits(word_at(bytes, i + 24));
        if bits != 0 {
            break;
        }
        i += 32;
    }
    while i + 8 <= bytes.len() && escape_bits(word_at(bytes, i)) == 0 {
        i += 8;
    }
    i
}

/// Write `s` as a JSON string with serde_json's escapes: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
/// `\t`, other control characters as `\u00xx` (lowercase hex), everything else as is.
pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        i = plain_run_end(bytes, i);
        let Some(&b) = bytes.get(i) else {
            break;
        };
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => &[],
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(escape);
        }
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
