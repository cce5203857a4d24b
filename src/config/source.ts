// A config file as YAML source: reading it, and naming a place in it in
// errors ("file:LINE:COL: key.path: problem"). Free of the schema (zod), so
// the CLI's client commands can read their one block without loading it.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
    this.name = 'ConfigError';
  }
}

/** "a.b[2].c" for error messages. */
export function keyPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(top level)';
}

/** Where in the YAML source a key path is, as "LINE:COL", or '' when unknown. */
export function locate(doc: Document, lines: LineCounter, path: ReadonlyArray<PropertyKey>): string {
  // An unknown or missing key has no node of its own: point at the nearest parent that exists.
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n) as unknown[], true);
    if (isNode(node) && node.range) {
      const { line, col } = lines.linePos(node.range[0]);
      return `${line}:${col}`;
    }
  }
  return '';
}

/** A parsed config file: its plain value and a way to name a key's place in errors. */
export interface YamlSource {
  value: unknown;
  /** "file:LINE:COL: " (or "file: " where the key has no place), to prefix a problem with. */
  where(path: ReadonlyArray<PropertyKey>): string;
}

/** YAML text parsed; a syntax error (or a repeated key) is a ConfigError naming `file`, line and column. */
export function parseYaml(text: string, file: string): YamlSource {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((e) => {
        const { line, col } = lines.linePos(e.pos[0]);
        return `${file}:${line}:${col}: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  return {
    value: doc.toJS() ?? {},
    where: (path) => {
      const at = locate(doc, lines, path);
      return `${file}:${at ? `${at}:` : ''} `;
    },
  };
}

/** The text of config file `file`; unreadable is a ConfigError. */
export function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read: ${(err as Error).message}`]);
  }
}
