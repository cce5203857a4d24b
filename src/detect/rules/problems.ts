// What loading rules found wrong: errors stop a file from loading,
// warnings (a rule skipped for a field Vigil lacks, …) do not.
import { formatAt, type Position } from './source.js';

export interface Problem {
  severity: 'error' | 'warning';
  file: string;
  line: number;
  col: number;
  /** The rule, macro or list it is about, if any. */
  item?: string;
  message: string;
}

export function problemText(p: Problem): string {
  const where = formatAt(p.file, { line: p.line, col: p.col });
  return `${where}: ${p.severity}: ${p.message}`;
}

export class RuleLoadError extends Error {
  constructor(readonly problems: Problem[]) {
    super(problems.filter((p) => p.severity === 'error').map(problemText).join('\n'));
    this.name = 'RuleLoadError';
  }
}

export interface Loc extends Position {
  file: string;
}
