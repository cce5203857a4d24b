// The tests' line reader (test/support/lines.ts) on a real pipe: a line a
// helper writes in pieces, read between the pieces, is still one line.
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { completeLines, onLines } from '../support/lines.js';

describe('reading a helper\'s output in lines', () => {
  it('gives a line written in pieces whole, once its newline has come', async () => {
    // As print('accepted', addr) does under PYTHONUNBUFFERED=1, with a pause
    // between the writes so the reader sees the pieces as separate chunks.
    const script = `import sys, time
for piece in ['accepted', ' ', '127.0.0.15', '\\n', 'ready\\nacc', 'epted 127.0.0.16\\n']:
    sys.stdout.write(piece); sys.stdout.flush(); time.sleep(0.05)
`;
    const child = spawn('/usr/bin/python3', ['-u', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks: string[] = [];
    const lines: string[] = [];
    child.stdout.on('data', (d: Buffer) => chunks.push(d.toString()));
    onLines(child.stdout, (l) => lines.push(l));
    await new Promise((r) => child.once('close', r));
    expect(chunks.length).toBeGreaterThan(3); // the pieces did arrive apart
    expect(lines).toEqual(['accepted 127.0.0.15', 'ready', 'accepted 127.0.0.16']);
  });

  it('leaves out an unterminated last line of text read so far', () => {
    expect(completeLines('')).toEqual([]);
    expect(completeLines('{"msg":"a"}\n{"msg":')).toEqual(['{"msg":"a"}']);
    expect(completeLines('1\n2\n')).toEqual(['1', '2']);
  });
});
