// Falco's condition language: a cursor-driven recursive-descent parser
// (bare words are context-dependent, so there is no separate token
// stream), following the grammar of libsinsp's filter parser. Every node
// keeps the offset it starts at, so errors point at a line and column.
import type { SourceText } from './source.js';

export type Expr = AndExpr | OrExpr | NotExpr | MacroRef | Check;

export interface AndExpr { k: 'and'; items: Expr[]; at: At }
export interface OrExpr { k: 'or'; items: Expr[]; at: At }
export interface NotExpr { k: 'not'; e: Expr; at: At }
export interface MacroRef { k: 'macro'; name: string; at: At }
export interface Check {
  k: 'check';
  field: FieldRef;
  op: Operator;
  /** null for `exists`. */
  value: Value | null;
  at: At;
}

export interface FieldRef {
  name: string;
  /** The `[…]` argument, e.g. "2" in proc.aname[2]. */
  arg: string | null;
  /** A field transformer such as tolower(), which Vigil does not evaluate. */
  transformer: string | null;
  at: At;
}

export type Value = ScalarValue | ListValue | ListRef;
export interface ScalarValue { k: 'scalar'; v: string; quoted: boolean; at: At }
export interface ListValue { k: 'list'; items: ScalarValue[]; at: At }
/** `in list_name` without parentheses. */
export interface ListRef { k: 'listref'; name: string; at: At }

/** A place in a condition: the text it belongs to and the offset in it. */
export interface At { src: SourceText; off: number }

export const UNARY_OPS = ['exists'] as const;
export const NUM_OPS = ['<=', '<', '>=', '>'] as const;
export const STR_OPS = ['==', '=', '!=', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex'] as const;
export const LIST_OPS = ['intersects', 'in', 'pmatch'] as const;
export type Operator = (typeof UNARY_OPS)[number] | (typeof NUM_OPS)[number] | (typeof STR_OPS)[number] | (typeof LIST_OPS)[number];

const WORD_OPS = new Set<string>(['exists', 'glob', 'iglob', 'contains', 'icontains', 'bcontains', 'startswith', 'bstartswith', 'endswith', 'regex', 'intersects', 'in', 'pmatch']);
const LIST_OP_SET = new Set<string>(LIST_OPS);
const TRANSFORMERS = new Set(['tolower', 'toupper', 'b64', 'basename', 'len', 'val']);

export class ConditionSyntaxError extends Error {
  constructor(message: string, readonly at: At) {
    super(message);
    this.name = 'ConditionSyntaxError';
  }
}

const MAX_DEPTH = 200;

function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\b' || c === '\f';
}
function isAlpha(c: string | undefined): boolean {
  return c !== undefined && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}
function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && (isAlpha(c) || (c >= '0' && c <= '9') || c === '_');
}
/** BareStr ::= [^ \b\t\n\r\(\),="']+ */
function isBareChar(c: string | undefined): boolean {
  return c !== undefined && !isBlank(c) && c !== '(' && c !== ')' && c !== ',' && c !== '=' && c !== '"' && c !== "'";
}

/** Parses a whole condition; throws ConditionSyntaxError. */
export function parseCondition(src: SourceText): Expr {
  return new Parser(src).parseAll();
}

class Parser {
  private pos = 0;
  private depth = 0;
  private readonly s: string;

  constructor(private readonly src: SourceText) {
    this.s = src.text;
  }

  parseAll(): Expr {
    this.blanks();
    if (this.pos >= this.s.length) throw this.error('empty condition');
    const e = this.parseOr();
    this.blanks();
    if (this.pos < this.s.length) {
      const c = this.s[this.pos];
      throw this.error(c === ')' ? "unexpected ')' (no matching '(')" : `unexpected '${this.peekWord()}', expecting 'and', 'or' or the end of the condition`);
    }
    return e;
  }

  private at(off = this.pos): At {
    return { src: this.src, off };
  }

  private error(msg: string, off = this.pos): ConditionSyntaxError {
    return new ConditionSyntaxError(msg, this.at(off));
  }

  private blanks(): void {
    while (this.pos < this.s.length && isBlank(this.s[this.pos])) this.pos++;
  }

  private peekWord(): string {
    let end = this.pos;
    while (end < this.s.length && !isBlank(this.s[end]) && end - this.pos < 40) end++;
    return this.s.slice(this.pos, end) || this.s[this.pos] || '';
  }

  /** A keyword (and/or/not) followed by a blank or '(' — "android" is not "and". */
  private keyword(word: string): boolean {
    if (!this.s.startsWith(word, this.pos)) return false;
    const next = this.s[this.pos + word.length];
    if (next !== undefined && !isBlank(next) && next !== '(') return false;
    this.pos += word.length;
    return true;
  }

  private enter(): void {
    if (++this.depth > MAX_DEPTH) throw this.error(`condition nested deeper than ${MAX_DEPTH} levels`);
  }

  private parseOr(): Expr {
    this.enter();
    const start = this.pos;
    const first = this.parseAnd();
    const items = [first];
    for (;;) {
      this.blanks();
      if (!this.keyword('or')) break;
      this.blanks();
      items.push(this.parseAnd());
    }
    this.depth--;
    return items.length === 1 ? first : { k: 'or', items, at: this.at(start) };
  }

  private parseAnd(): Expr {
    const start = this.pos;
    const first = this.parseNot();
    const items = [first];
    for (;;) {
      this.blanks();
      if (!this.keyword('and')) break;
      this.blanks();
      items.push(this.parseNot());
    }
    return items.length === 1 ? first : { k: 'and', items, at: this.at(start) };
  }

  private parseNot(): Expr {
    this.blanks();
    const start = this.pos;
    if (this.keyword('not')) {
      this.enter();
      this.blanks();
      const e = this.parseNot();
      this.depth--;
      return { k: 'not', e, at: this.at(start) };
    }
    return this.parseCheck();
  }

  private parseCheck(): Expr {
    this.blanks();
    const start = this.pos;
    const c = this.s[this.pos];
    if (c === undefined) throw this.error('unexpected end of condition, expecting a field, a macro or \'(\'');
    if (c === '(') {
      this.pos++;
      this.enter();
      this.blanks();
      if (this.s[this.pos] === ')') throw this.error("empty parentheses '()'");
      const e = this.parseOr();
      this.blanks();
      if (this.s[this.pos] !== ')') {
        throw this.error(this.pos >= this.s.length ? "missing ')' (the '(' opened here is never closed)" : `unexpected '${this.peekWord()}', expecting ')'`, this.pos >= this.s.length ? start : this.pos);
      }
      this.pos++;
      this.depth--;
      return e;
    }
    if (!isAlpha(c)) throw this.error(`unexpected '${this.peekWord()}', expecting a field, a macro or '('`);
    let end = this.pos;
    while (isIdentChar(this.s[end])) end++;
    const ident = this.s.slice(this.pos, end);
    // A transformer: tolower(field) …
    if (this.s[end] === '(' && TRANSFORMERS.has(ident)) {
      this.pos = end + 1;
      this.blanks();
      const inner = this.parseFieldName();
      this.blanks();
      if (this.s[this.pos] !== ')') throw this.error(`expecting ')' to close ${ident}(`);
      this.pos++;
      const field: FieldRef = { ...inner, transformer: ident, at: this.at(start) };
      return this.parseCondition(field, start);
    }
    if (ident === 'and' || ident === 'or') throw this.error(`unexpected '${ident}', expecting a field, a macro or '('`);
    if (this.s[end] !== '.') {
      // No dot: a macro.
      this.pos = end;
      return { k: 'macro', name: ident, at: this.at(start) };
    }
    const field = this.parseFieldName();
    return this.parseCondition(field, start);
  }

  /** FieldName ('[' FieldArg ']')? */
  private parseFieldName(): FieldRef {
    const start = this.pos;
    if (!isAlpha(this.s[this.pos])) throw this.error(`expecting a field name, found '${this.peekWord()}'`);
    let end = this.pos;
    for (;;) {
      while (isIdentChar(this.s[end])) end++;
      if (this.s[end] === '.' && isIdentChar(this.s[end + 1])) {
        end++;
        continue;
      }
      break;
    }
    const name = this.s.slice(this.pos, end);
    if (!name.includes('.')) throw this.error(`'${name}' is not a field (fields look like class.name, e.g. proc.name)`, start);
    this.pos = end;
    let arg: string | null = null;
    if (this.s[this.pos] === '[') {
      this.pos++;
      const q = this.s[this.pos];
      if (q === '"' || q === "'") {
        arg = this.quoted();
      } else {
        let e = this.pos;
        while (e < this.s.length && !isBlank(this.s[e]) && this.s[e] !== '[' && this.s[e] !== ']' && this.s[e] !== '"' && this.s[e] !== "'") e++;
        if (e === this.pos) throw this.error(`empty argument in ${name}[]`);
        arg = this.s.slice(this.pos, e);
        this.pos = e;
      }
      if (this.s[this.pos] !== ']') throw this.error(`expecting ']' to close ${name}[`);
      this.pos++;
    }
    return { name, arg, transformer: null, at: this.at(start) };
  }

  private parseCondition(field: FieldRef, start: number): Check {
    this.blanks();
    const opAt = this.pos;
    const op = this.operator();
    if (!op) {
      const found = this.pos >= this.s.length ? 'the end of the condition' : `'${this.peekWord()}'`;
      throw this.error(`expecting an operator after '${field.name}${field.arg !== null ? `[${field.arg}]` : ''}', found ${found}`, opAt);
    }
    if (op === 'exists') return { k: 'check', field, op, value: null, at: this.at(start) };
    this.blanks();
    if (LIST_OP_SET.has(op)) return { k: 'check', field, op, value: this.listValue(op), at: this.at(start) };
    if (this.pos >= this.s.length) throw this.error(`expecting a value after '${op}'`);
    return { k: 'check', field, op, value: this.scalar(`a value after '${op}'`), at: this.at(start) };
  }

  private operator(): Operator | null {
    const s = this.s;
    const p = this.pos;
    for (const op of ['<=', '>=', '==', '!=', '<', '>', '=']) {
      if (s.startsWith(op, p)) {
        this.pos += op.length;
        return op as Operator;
      }
    }
    let end = p;
    while (end < s.length && s[end]! >= 'a' && s[end]! <= 'z') end++;
    const word = s.slice(p, end);
    if (!WORD_OPS.has(word)) return null;
    const next = s[end];
    // Word operators are followed by a blank; list operators may touch their '(', and the
    // unary `exists` the ')' closing its group: (container.id exists).
    if (next !== undefined && !isBlank(next) && !(LIST_OP_SET.has(word) && next === '(') && !(word === 'exists' && next === ')')) return null;
    this.pos = end;
    return word as Operator;
  }

  private listValue(op: string): ListValue | ListRef {
    const start = this.pos;
    if (this.s[this.pos] !== '(') {
      if (isAlpha(this.s[this.pos])) {
        let end = this.pos;
        while (isIdentChar(this.s[end])) end++;
        const name = this.s.slice(this.pos, end);
        this.pos = end;
        return { k: 'listref', name, at: this.at(start) };
      }
      throw this.error(`expecting '(' or a list name after '${op}'`);
    }
    this.pos++;
    const items: ScalarValue[] = [];
    this.blanks();
    if (this.s[this.pos] === ')') {
      this.pos++;
      return { k: 'list', items, at: this.at(start) };
    }
    for (;;) {
      this.blanks();
      items.push(this.scalar('a list item'));
      this.blanks();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ')') {
        this.pos++;
        break;
      }
      if (c === undefined) throw this.error(`missing ')' to close the list opened here`, start);
      throw this.error(`unexpected '${this.peekWord()}' in a list, expecting ',' or ')'`);
    }
    return { k: 'list', items, at: this.at(start) };
  }

  private scalar(what: string): ScalarValue {
    const start = this.pos;
    const c = this.s[this.pos];
    if (c === '"' || c === "'") return { k: 'scalar', v: this.quoted(), quoted: true, at: this.at(start) };
    let end = this.pos;
    while (isBareChar(this.s[end])) end++;
    if (end === this.pos) {
      throw this.error(`expecting ${what}, found ${c === undefined ? 'the end of the condition' : `'${c}'`}`);
    }
    this.pos = end;
    return { k: 'scalar', v: this.s.slice(start, end), quoted: false, at: this.at(start) };
  }

  private quoted(): string {
    const r = readQuoted(this.s, this.pos);
    if (!r) throw this.error(`unterminated string (missing closing ${this.s[this.pos]})`);
    this.pos = r.end;
    return r.v;
  }
}

const ESCAPES: Record<string, string> = { '\\': '\\', '"': '"', "'": "'", n: '\n', t: '\t', r: '\r', b: '\b', f: '\f' };

/** QuotedStr with libsinsp's escapes, starting at the opening quote; null when unterminated. */
function readQuoted(s: string, start: number): { v: string; end: number } | null {
  const q = s[start]!;
  let out = '';
  let i = start + 1;
  for (;;) {
    const c = s[i];
    if (c === undefined) return null;
    if (c === q) return { v: out, end: i + 1 };
    if (c === '\\') {
      const n = s[i + 1];
      if (n !== undefined && ESCAPES[n] !== undefined) {
        out += ESCAPES[n];
        i += 2;
        continue;
      }
    }
    out += c;
    i++;
  }
}

/** Reads one list item as the condition language would: quotes stripped, escapes resolved. */
export function parseListItem(raw: string): { v: string; quoted: boolean } {
  const t = raw.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'")) {
    const r = readQuoted(t, 0);
    if (r && r.end === t.length) return { v: r.v, quoted: true };
  }
  return { v: t, quoted: false };
}
