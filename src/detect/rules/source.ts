// Where a piece of rule text came from: a file and a map from offsets in
// the (YAML-unfolded) text back to the line and column in the file.
import type { LineCounter, Scalar } from 'yaml';

export interface Position {
  line: number;
  col: number;
}

export interface SourceText {
  file: string;
  text: string;
  /** Line and column in `file` of offset `off` in `text`. */
  where(off: number): Position;
  /** The file an offset comes from, when parts of the text come from several files (appends). */
  fileAt?(off: number): string;
}

/** "file:line:col" */
export function formatAt(file: string, p: Position): string {
  return p.line > 0 ? `${file}:${p.line}:${p.col}` : file;
}

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/**
 * A YAML scalar's value with its offsets mapped back into the file. The
 * value is aligned with the raw source character by character: folding
 * (newlines and indentation turned into one space), block headers,
 * quotes and escapes are skipped over, so columns stay exact for the
 * usual plain, quoted and `>` styles.
 */
export function scalarSource(file: string, fileText: string, lines: LineCounter, node: Scalar, value: string): SourceText {
  const [start, , end] = node.range ?? [0, 0, 0];
  let j = start;
  const type = node.type;
  if (type === 'BLOCK_FOLDED' || type === 'BLOCK_LITERAL') {
    while (j < end && fileText[j] !== '\n') j++;
    j++;
  } else if (type === 'QUOTE_DOUBLE' || type === 'QUOTE_SINGLE') {
    j++;
  }
  const quote = type === 'QUOTE_DOUBLE' ? '"' : type === 'QUOTE_SINGLE' ? "'" : '';
  const map = new Int32Array(value.length + 1);
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (isWs(c)) {
      map[i] = j;
      if (j < end && isWs(fileText[j])) j++;
      continue;
    }
    while (j < end && isWs(fileText[j])) j++;
    map[i] = j;
    if (quote === '"' && fileText[j] === '\\') j += 2;
    else if (quote === "'" && c === "'" && fileText[j] === "'" && fileText[j + 1] === "'") j += 2;
    else j++;
  }
  map[value.length] = Math.min(j, Math.max(end, start));
  return {
    file,
    text: value,
    where: (off) => lines.linePos(map[Math.max(0, Math.min(off, value.length))]!),
  };
}

/** Several texts joined with a space (a condition and its appends), each keeping its own positions. */
export function joinSources(parts: readonly SourceText[]): SourceText {
  if (parts.length === 1) return parts[0]!;
  const starts: number[] = [];
  let text = '';
  for (const p of parts) {
    if (text) text += ' ';
    starts.push(text.length);
    text += p.text;
  }
  const partAt = (off: number): number => {
    let i = starts.length - 1;
    while (i > 0 && starts[i]! > off) i--;
    return i;
  };
  return {
    file: parts[0]!.file,
    text,
    where: (off) => {
      const i = partAt(off);
      return parts[i]!.where(off - starts[i]!);
    },
    fileAt: (off) => parts[partAt(off)]!.file,
  };
}

/** The file and "line:col" of an offset, for messages. */
export function locate(src: SourceText, off: number): string {
  const f = src.fileAt?.(off) ?? src.file;
  return formatAt(f, src.where(off));
}

/** Text without a file position (built-in snippets, tests). */
export function plainSource(text: string, file = '<condition>'): SourceText {
  return {
    file,
    text,
    where: (off) => {
      let line = 1;
      let col = 1;
      for (let i = 0; i < off && i < text.length; i++) {
        if (text[i] === '\n') {
          line++;
          col = 1;
        } else col++;
      }
      return { line, col };
    },
  };
}
