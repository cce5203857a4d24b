// How the compiler's stages say a rule cannot compile: a broken rule (an
// error naming the place), a rule Vigil cannot evaluate (skipped with a
// warning), or a problem already reported (a macro's syntax error).
import type { At } from './condition.js';
import type { Loc } from './problems.js';

export class CompileError extends Error {
  constructor(message: string, readonly loc: Loc) {
    super(message);
  }
}

/** A problem already reported (a macro's syntax error): the rule cannot compile. */
export class Reported extends Error {}

/** Something Vigil cannot evaluate (a field, an operator): the rule is skipped, or an exception using it relaxed. */
export class Unsupported extends Error {
  constructor(message: string, readonly loc: Loc) {
    super(message);
  }
}

export function locOf(at: At): Loc {
  const { line, col } = at.src.where(at.off);
  return { file: at.src.fileAt?.(at.off) ?? at.src.file, line, col };
}
