import { once } from 'node:events';
import type { Writable } from 'node:stream';

/**
 * Writes that wait for the reader: the promise is there when the stream's buffer is full (stdout
 * piped to a slower reader) and settles once it drained, or fails if the stream fails. Large output
 * made piece by piece is then held a piece at a time, never queued whole.
 */
export function pacedWriter(stream: Writable): (s: string) => Promise<void> | undefined {
  return (s) => (stream.write(s) ? undefined : once(stream, 'drain').then(() => undefined));
}
