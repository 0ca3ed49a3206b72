import { cursorFromRfc3339, cursorToMs } from './log-cursor.js';
import type { ContainerLogLine } from './types.js';

/**
 * A line longer than this is cut: what is kept so far goes out as a line of its own. Docker
 * itself splits lines at 16 KiB; this bounds what one stream may hold in memory.
 */
export const MAX_LOG_LINE_BYTES = 64 * 1024;

const NEWLINE = 0x0a;

/**
 * Splits one stream of a container's log (stdout or stderr, after demultiplexing) into lines,
 * each `<RFC 3339 nano time> <message>` as the engine sends them with `timestamps: true`.
 * Splitting on the byte 0x0A is safe in UTF-8, which never uses it inside a character, so each
 * line is decoded whole. A line without a readable time keeps the previous line's.
 */
export class LogLineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private lastCursor = '0.000000000';

  constructor(
    private readonly isStderr: boolean,
    private readonly onLine: (line: ContainerLogLine) => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let at = chunk.indexOf(NEWLINE); at !== -1; at = chunk.indexOf(NEWLINE, start)) {
      this.append(chunk.subarray(start, at));
      this.emitPending();
      start = at + 1;
    }
    if (start < chunk.length) this.append(chunk.subarray(start));
  }

  /** The stream ended: a last line without its newline still counts. */
  end(): void {
    if (this.pendingBytes > 0) this.emitPending();
  }

  private append(part: Buffer): void {
    let rest = part;
    while (this.pendingBytes + rest.length > MAX_LOG_LINE_BYTES) {
      const room = MAX_LOG_LINE_BYTES - this.pendingBytes;
      this.pending.push(rest.subarray(0, room));
      this.pendingBytes += room;
      this.emitPending();
      rest = rest.subarray(room);
    }
    if (rest.length === 0) return;
    this.pending.push(rest);
    this.pendingBytes += rest.length;
  }

  private emitPending(): void {
    let text = Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
    this.pending = [];
    this.pendingBytes = 0;
    if (text.endsWith('\r')) text = text.slice(0, -1);
    const space = text.indexOf(' ');
    const cursor = space > 0 ? cursorFromRfc3339(text.slice(0, space)) : undefined;
    if (cursor !== undefined) this.lastCursor = cursor;
    this.onLine({
      message: cursor === undefined ? text : text.slice(space + 1),
      timestamp: cursorToMs(this.lastCursor),
      isStderr: this.isStderr,
      cursor: this.lastCursor,
    });
  }
}
