import { isUtf8 } from 'node:buffer';
import { decodeJson } from './json.js';
import { PyroostError } from './pyroostError.js';

/** Default bound on one frame's body: 64 MiB. */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

/** Size of the big-endian length prefix of each frame. */
export const FRAME_HEADER_BYTES = 4;

/** Largest value the 4-byte length prefix can hold. */
const MAX_HEADER_VALUE = 0xffff_ffff;

/**
 * Builds one frame from JSON text: a 4-byte big-endian length, then the UTF-8
 * bytes. The text may be given as parts that together form it, which are
 * written one after another into the frame, so that a large part is never
 * copied into a joined string first. Throws `frame_too_large` when the body
 * exceeds `maxFrameBytes`.
 */
export function encodeFrame(
  json: string | readonly string[],
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
): Buffer {
  const parts = typeof json === 'string' ? [json] : json;
  let length = 0;
  for (const part of parts) length += Buffer.byteLength(part, 'utf8');
  if (length > maxFrameBytes || length > MAX_HEADER_VALUE) {
    throw new PyroostError({
      type: 'frame_too_large',
      message:
        `Request of ${length} bytes exceeds maxFrameBytes (${maxFrameBytes}); ` +
        'send smaller inputs (for example a file path instead of the file) or raise maxFrameBytes.',
      context: { frameBytes: length, maxFrameBytes },
    });
  }
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  frame.writeUInt32BE(length, 0);
  let offset = FRAME_HEADER_BYTES;
  for (const part of parts) offset += frame.write(part, offset, 'utf8');
  return frame;
}

/** Options of `FrameDecoder`. */
export interface FrameDecoderOptions {
  /** Bound on one frame's body, in bytes. Default 64 MiB. */
  maxFrameBytes?: number;
}

/**
 * Incremental frame decoder. Feed it chunks in order with `push`; it returns
 * the complete messages, whatever the chunking. A frame is turned into text
 * only once all its bytes have arrived, so a multi-byte character split across
 * chunks decodes correctly. An oversized header is rejected before any of its
 * body is buffered. After an error the decoder is unusable, because the
 * stream cannot be resynchronised.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number;
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private bodyBytes = -1;
  private failure: PyroostError | undefined;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  }

  /** Bytes received but not yet part of a complete frame, header included. */
  get pendingBytes(): number {
    return this.bodyBytes < 0
      ? this.bufferedBytes
      : this.bufferedBytes + FRAME_HEADER_BYTES;
  }

  /**
   * Adds a chunk and returns every message it completes. Messages completed
   * before a bad frame in the same chunk are passed to `onMessage` first when
   * it is given, then the error is thrown.
   */
  push(
    chunk: Buffer,
    onMessage?: (message: Record<string, unknown>) => void,
  ): Record<string, unknown>[] {
    if (this.failure) throw this.failure;
    const messages: Record<string, unknown>[] = [];
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.bufferedBytes += chunk.length;
    }

    try {
      for (;;) {
        if (this.bodyBytes < 0) {
          if (this.bufferedBytes < FRAME_HEADER_BYTES) break;
          const length = this.take(FRAME_HEADER_BYTES).readUInt32BE(0);
          if (length > this.maxFrameBytes) throw this.tooLarge(length);
          this.bodyBytes = length;
        }
        if (this.bufferedBytes < this.bodyBytes) break;
        const body = this.take(this.bodyBytes);
        this.bodyBytes = -1;
        const message = decodeBody(body);
        if (onMessage) onMessage(message);
        else messages.push(message);
      }
    } catch (error) {
      this.failure = error as PyroostError;
      this.chunks = [];
      this.bufferedBytes = 0;
      this.bodyBytes = -1;
      throw error;
    }
    return messages;
  }

  private tooLarge(length: number): PyroostError {
    return new PyroostError({
      type: 'frame_too_large',
      message:
        `Received a frame header announcing ${length} bytes, over maxFrameBytes ` +
        `(${this.maxFrameBytes}); the program's result is too large or the stream is corrupt. ` +
        'Return less data or raise maxFrameBytes.',
      context: { frameBytes: length, maxFrameBytes: this.maxFrameBytes },
    });
  }

  /** Removes and returns the next `count` buffered bytes, copying only when they span chunks. */
  private take(count: number): Buffer {
    this.bufferedBytes -= count;
    const first = this.chunks[0];
    if (first && first.length >= count) {
      if (first.length === count) this.chunks.shift();
      else this.chunks[0] = first.subarray(count);
      return first.subarray(0, count);
    }

    const out = Buffer.allocUnsafe(count);
    let filled = 0;
    let used = 0;
    while (filled < count) {
      const chunk = this.chunks[used] as Buffer;
      const part = Math.min(chunk.length, count - filled);
      chunk.copy(out, filled, 0, part);
      filled += part;
      if (part === chunk.length) used += 1;
      else this.chunks[used] = chunk.subarray(part);
    }
    this.chunks.splice(0, used);
    return out;
  }
}

function protocolError(message: string, cause?: unknown): PyroostError {
  return new PyroostError({ type: 'protocol_error', message, cause });
}

/** Turns one frame body into a message object, or throws `protocol_error`. */
export function decodeBody(body: Buffer): Record<string, unknown> {
  if (!isUtf8(body)) {
    throw protocolError(
      `Received a frame of ${body.length} bytes that is not valid UTF-8.`,
    );
  }
  const text = body.toString('utf8');
  let value: unknown;
  try {
    value = decodeJson(text);
  } catch (error) {
    const preview = text.length > 60 ? `${text.slice(0, 57)}...` : text;
    throw protocolError(
      `Received a frame that is not valid JSON (${(error as Error).message}): ${JSON.stringify(preview)}`,
      error,
    );
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw protocolError(
      `Received a frame whose JSON is not an object: ${text.slice(0, 60)}`,
    );
  }
  return value as Record<string, unknown>;
}
