// For the log tests: a stream that keeps what the log writes to it. Importing this module also
// closes the log after each test, so that no test's log set-up reaches the next one.
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { closeLog } from '../../../src/log.ts';

afterEach(() => closeLog());

/** A stream that keeps what is written to it. */
export function capture() {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}
