// Lines of a child process's output. A line can reach the reader in
// pieces: one print() may be several write()s (Python under
// PYTHONUNBUFFERED=1, as CI sets it, writes each argument, each separator
// and the newline apart), and a busy host reads between them. Splitting
// each 'data' chunk on '\n' then sees "accepted", " " and "127.0.0.15" as
// three lines and loses the one the test waits for; these wait for the '\n'.
// No test-runner imports: benches may use it too.
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

/** Calls `fn` with each complete line of `stream`, in order, however it was chunked. */
export function onLines(stream: Readable, fn: (line: string) => void): void {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', fn);
}

/** The complete lines of output read so far: an unterminated last one is still being written, and left out. */
export function completeLines(text: string): string[] {
  const end = text.lastIndexOf('\n');
  return end < 0 ? [] : text.slice(0, end).split('\n');
}
