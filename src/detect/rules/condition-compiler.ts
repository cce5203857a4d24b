// The condition compiler: one resolved condition → the functions that
// evaluate it. Each check is validated once (checks.ts); per event type
// the condition is specialised (specialize.ts) and, where it can match,
// generated into a function (codegen.ts); per class of that type it is
// specialised again, classes that fold alike sharing one function, each
// with its per-value filters (filters.ts). The router (router.ts) picks
// among them per event.
import { EVENT_TYPES, type EventType } from '../../model/event.js';
import { checkInfo, type CheckInfo } from './checks.js';
import { classCount } from './classes.js';
import { CodeGen, irKey } from './codegen.js';
import { Unsupported } from './compile-errors.js';
import type { CompiledCondition, Filter, RuleFn, Variant } from './compiled.js';
import { DIMS, type Dim } from './field-types.js';
import { necessary, pastFilters } from './filters.js';
import type { Loc } from './problems.js';
import type { ResolvedCheck, ResolvedNode } from './resolver.js';
import { and, evtType, MISSING, not, or, specialize, unsupportedIn, usesStarts, type Info, type IR } from './specialize.js';

export class ConditionCompiler {
  private readonly info = new Map<ResolvedCheck, Info>();
  /** Checks numbered, for irKey. */
  private readonly ids = new Map<CheckInfo, number>();
  /** Exception clauses not applied because Vigil lacks their field. */
  readonly relaxed: { why: string; loc: Loc }[] = [];
  /** Domain names the condition compares addresses with (fd.sip.name = …): the rule set resolves them. */
  readonly dnsNames = new Set<string>();

  constructor(private readonly ruleName: string) {}

  /** Routes and functions for a resolved condition, or why it cannot run. */
  compile(root: ResolvedNode): { cond: CompiledCondition; unsupported: { why: string; loc: Loc } | null; starts: boolean; restricted: boolean } {
    this.collect(root);
    const byType = new Map<EventType, RuleFn>();
    const source = new Map<EventType, string>();
    let unsupported: { why: string; loc: Loc } | null = null;
    let starts = false;
    const irs = new Map<EventType, IR>();
    for (const t of EVENT_TYPES) {
      const ir = specialize(root, t, this.info);
      if (ir === false) continue;
      const u = unsupportedIn(ir);
      if (u) {
        unsupported ??= u;
        continue;
      }
      irs.set(t, ir);
    }
    const variants = new Map<EventType, (Variant | null)[]>();
    if (!unsupported) {
      for (const [t, ir] of irs) {
        const g = new CodeGen(t);
        const { fn, source: src } = g.fn(this.ruleName, ir);
        byType.set(t, fn);
        source.set(t, src);
        starts ||= usesStarts(ir);
        variants.set(t, this.variantsOf(root, t));
      }
    }
    return { cond: { byType, source, variants }, unsupported, starts, restricted: this.restrictsType(root) };
  }

  /** The condition per class of `t`, with its filters; classes that specialise it alike share one function. */
  private variantsOf(root: ResolvedNode, t: EventType): (Variant | null)[] {
    const out: (Variant | null)[] = [];
    const made = new Map<string, Variant>();
    const classes = classCount(t);
    for (let cls = 0; cls < classes; cls++) {
      const ir = specialize(root, t, this.info, cls);
      if (ir === false) {
        out.push(null);
        continue;
      }
      const key = irKey(ir, t, cls, this.ids);
      let v = made.get(key);
      if (!v) {
        const suffix = classes > 1 ? `_${cls}` : '';
        const { fn, source } = new CodeGen(t, cls).fn(this.ruleName, ir, suffix);
        const filters: Filter[] = [];
        const dims: Dim[] = [];
        for (const dim of DIMS) {
          const f = necessary(ir, dim, t, cls);
          if (f === true) continue;
          const g = new CodeGen(t, cls).fn(`${this.ruleName}_by_${dim}`, f, suffix);
          filters.push({ dim, fn: g.fn, source: g.source });
          dims.push(dim);
        }
        const restIr = pastFilters(ir, dims, t, cls);
        const rest = restIr === ir ? fn : new CodeGen(t, cls).fn(`${this.ruleName}_past_filters`, restIr, suffix).fn;
        v = { fn, source, filters, rest };
        made.set(key, v);
      }
      out.push(v);
    }
    return out;
  }

  /**
   * Validates every check. A check Vigil cannot evaluate under an odd
   * number of `not`s (an exception: "… and not container.image.repository
   * in (trusted)") reads as missing, so the exception never applies and
   * the rule fires at least wherever Falco's would; the same check in a
   * positive position could only make the rule never fire, so the rule is
   * skipped instead.
   */
  private collect(n: ResolvedNode, negated = false): void {
    switch (n.k) {
      case 'and':
      case 'or':
        n.items.forEach((i) => this.collect(i, negated));
        break;
      case 'not':
        this.collect(n.e, !negated);
        break;
      case 'check':
        if ((n.op === 'in' || n.op === 'intersects') && n.values?.length === 0) {
          this.info.set(n, MISSING); // `x in ()` is false whatever x is
          break;
        }
        try {
          const c = checkInfo(n);
          this.info.set(n, c);
          if (c.field.names === 'dns' && c.operand) for (const v of c.operand.values) this.dnsNames.add(String(v));
        } catch (err) {
          if (!(err instanceof Unsupported)) throw err;
          if (negated) {
            this.info.set(n, MISSING);
            if (!this.relaxed.some((r) => r.why === err.message)) this.relaxed.push({ why: err.message, loc: err.loc });
          } else this.info.set(n, err);
        }
        break;
    }
  }

  /** Whether a check reads the path of an open (fd.name, fd.directory, fd.filename, evt.arg.name): falco-names.ts. */
  readsOpenPath(): boolean {
    for (const i of this.info.values()) if (i !== MISSING && !(i instanceof Unsupported) && i.field.on.has('open') && i.field.reads?.('open', -1) === 'path') return true;
    return false;
  }

  /**
   * Why checks in positive places cannot be evaluated (fields Vigil
   * lacks), for a rule that also fails for another reason: a rule on an
   * event type Vigil does not observe may need more than that type.
   */
  unsupportedChecks(): string[] {
    const out = new Set<string>();
    for (const i of this.info.values()) if (i instanceof Unsupported) out.add(i.message);
    return [...out];
  }

  /** Whether evt.type alone (every other check left open) rules out some event types. */
  private restrictsType(root: ResolvedNode): boolean {
    const open = (n: ResolvedNode, t: EventType): IR => {
      switch (n.k) {
        case 'const':
          return n.v;
        case 'and':
          return and(n.items.map((i) => open(i, t)));
        case 'or':
          return or(n.items.map((i) => open(i, t)));
        case 'not':
          return not(open(n.e, t));
        case 'check': {
          const c = this.info.get(n);
          return c && c !== MISSING && !(c instanceof Unsupported) && c.field.name === 'evt.type' ? evtType(c, t) : { k: 'unsup', why: '', loc: n.loc };
        }
      }
    };
    return EVENT_TYPES.some((t) => open(root, t) === false);
  }
}
