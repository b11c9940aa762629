/**
 * Newline framing with a size bound (protocol.md 3.1): splits a byte stream into lines without ever
 * buffering more than `maxBytes` of one line. Used by the bridge and by the IPC client.
 */

import { isAscii } from "node:buffer";

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true });
/**
 * Node's fatal UTF-8 decoder costs ~0.2 ns per byte (4.3 us for 20 KiB on the benchmark machine);
 * an ASCII check plus a Latin-1 copy half that. On Bun the decoder is as fast, so it is used alone.
 */
const ASCII_FAST_PATH = !("Bun" in globalThis);
/** Below this many bytes the decoder's fixed cost dominates and the ASCII check does not pay. */
const ASCII_FAST_MIN = 256;

/**
 * The text of UTF-8 bytes (a line, a WASM result buffer); throws TypeError on invalid UTF-8, as a
 * fatal TextDecoder does. Plain ASCII is copied as Latin-1, which is exact for bytes below 0x80.
 */
export function utf8Text(bytes: Uint8Array): string {
  if (ASCII_FAST_PATH && bytes.length >= ASCII_FAST_MIN && isAscii(bytes)) {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
  }
  return fatalUtf8.decode(bytes);
}

/** Callbacks of a LineSplitter. */
export interface LineSink {
  /** A complete line (without `\n`, and without a `\r` before it). */
  line(bytes: Buffer): void;
  /** A line longer than the limit was discarded; `seen` is how many bytes were seen when it was cut. */
  oversize(seen: number): void;
}

/** Incremental splitter: feed chunks with push(); lines come out through the sink. */
export class LineSplitter {
  private readonly maxBytes: number;
  private readonly sink: LineSink;
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(maxBytes: number, sink: LineSink) {
    this.maxBytes = maxBytes;
    this.sink = sink;
  }

  /** Bytes of the current partial line held in memory. */
  get pending(): number {
    return this.size;
  }

  /** Feeds one chunk. */
  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl === -1 ? chunk.length : nl;
      const piece = end - start;
      if (this.discarding) {
        if (nl !== -1) this.discarding = false;
      } else if (this.size + piece > this.maxBytes + 1) {
        // Over the limit (one byte of slack for a tolerated `\r` before `\n`).
        const seen = this.size + piece;
        this.parts = [];
        this.size = 0;
        this.discarding = nl === -1;
        this.sink.oversize(seen);
      } else if (nl !== -1) {
        let line: Buffer;
        if (this.parts.length === 0) line = chunk.subarray(start, end);
        else {
          this.parts.push(chunk.subarray(start, end));
          line = Buffer.concat(this.parts, this.size + piece);
          this.parts = [];
          this.size = 0;
        }
        if (line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
        if (line.length > this.maxBytes) this.sink.oversize(line.length);
        else this.sink.line(line);
      } else {
        // Keep a copy: the caller may reuse the chunk's memory.
        this.parts.push(Buffer.from(chunk.subarray(start, end)));
        this.size += piece;
      }
      if (nl === -1) break;
      start = nl + 1;
    }
  }

  /** Bytes of an unterminated final line, if any (returned at EOF). */
  rest(): Buffer | null {
    if (this.size === 0) return null;
    const b = Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    return b;
  }
}
