import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

/** Bodies at most this large are read to their end after a refusal, as Node does, and the connection is kept. */
const DRAIN_MAX_BYTES = 256 * 1024;
/** Time the client gets to read the answer before the connection closes. */
const GRACE_MS = 5_000;

/**
 * After an answer that did not read the request's body (a 429 or 413 refusing a 16 MiB batch before
 * reading it): stops reading the body and closes the connection once the client has had time to read
 * the answer. Node otherwise reads every refused byte to the end to keep the connection, and a key
 * whose refused batches were still uploading 64 MiB took the API's CPU from everyone else's requests
 * for as long. Closing at once instead makes the client's kernel drop the answer it had not read yet
 * (a reset with unread data), so the client would see a broken connection instead of its 429. While
 * the body is not read, TCP flow control holds the client's upload: it costs the API nothing.
 * Small bodies are left to Node (read to their end, connection kept).
 */
export function lingerUnreadBody(c: Context): void {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming === undefined || incoming.complete || incoming.destroyed) return;
  const length = incoming.headers['content-length'];
  const chunked = incoming.headers['transfer-encoding'] !== undefined;
  if (!chunked && (length === undefined || Number(length) <= DRAIN_MAX_BYTES)) return;
  // A read started by us marks the body as taken: Node then no longer reads it to its end after the
  // answer. Paused, it buffers at most its high-water mark, and the socket stops reading.
  incoming.pause();
  while (incoming.read() !== null) {
    // what was already buffered (at most the high-water mark) is dropped
  }
  const socket = incoming.socket;
  const timer = setTimeout(() => socket.destroy(), GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  incoming.once('end', () => clearTimeout(timer));
}
