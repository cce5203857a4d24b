// One rules file's YAML as the reader sees it: where a node is (file,
// line, column), problems reported against that place, and the typed
// values of an item's keys, each reported where it is when it has the
// wrong type.
import { isScalar, isSeq, LineCounter, type Node, type Scalar, type YAMLMap } from 'yaml';
import type { Loc, Problem } from './problems.js';
import { scalarSource, type SourceText } from './source.js';

export class FileReader {
  readonly lines = new LineCounter();

  constructor(
    readonly file: string,
    readonly text: string,
    private readonly problems: Problem[],
  ) {}

  loc(node: Node | null | undefined): Loc {
    const off = node?.range?.[0];
    if (off === undefined) return { file: this.file, line: 0, col: 0 };
    const { line, col } = this.lines.linePos(off);
    return { file: this.file, line, col };
  }

  error(at: Loc, message: string, item?: string): void {
    this.problems.push({ severity: 'error', ...at, item, message });
  }

  warn(at: Loc, message: string, item?: string): void {
    this.problems.push({ severity: 'warning', ...at, item, message });
  }

  /** A scalar's text with its offsets mapped back into the file (for conditions). */
  source(node: Scalar, value: string): SourceText {
    return scalarSource(this.file, this.text, this.lines, node, value);
  }

  /** The value of `key` in a mapping, or null when absent. */
  node(item: YAMLMap, key: string): Node | null {
    const pair = item.items.find((p) => isScalar(p.key) && p.key.value === key);
    return (pair?.value as Node | undefined) ?? null;
  }

  str(item: YAMLMap, key: string, what: string): { v: string; node: Scalar } | null {
    const n = this.node(item, key);
    if (n === null) return null;
    if (!isScalar(n) || n.value === null || typeof n.value === 'object') {
      this.error(this.loc(n), `${what}: '${key}' must be a string`);
      return null;
    }
    return { v: String(n.value), node: n };
  }

  bool(item: YAMLMap, key: string, what: string): boolean | null {
    const n = this.node(item, key);
    if (n === null) return null;
    if (!isScalar(n) || typeof n.value !== 'boolean') {
      this.error(this.loc(n), `${what}: '${key}' must be true or false`);
      return null;
    }
    return n.value;
  }

  /** A list of strings; one string stands for a list of one. */
  strList(n: Node | null, what: string): { items: string[]; nodes: Node[] } | null {
    if (n === null) return null;
    if (isScalar(n) && typeof n.value === 'string') return { items: [n.value], nodes: [n] };
    if (!isSeq(n)) {
      this.error(this.loc(n), `${what} must be a list`);
      return null;
    }
    const items: string[] = [];
    const nodes: Node[] = [];
    for (const i of n.items) {
      if (!isScalar(i) || i.value === null || typeof i.value === 'object') {
        this.error(this.loc(i as Node), `${what}: each item must be a string`);
        return null;
      }
      items.push(String(i.value));
      nodes.push(i);
    }
    return { items, nodes };
  }
}
