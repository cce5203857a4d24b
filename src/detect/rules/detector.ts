// Signature rules as a detection stage: each event runs only the rules
// routed to its type; a match raises an alert in the one Alert format.
// Rules reload (SIGHUP, or a watched file changing) by building the new
// set aside and swapping it in between two events, so no event is
// dropped or seen by half a rule set; a set that fails to load is not
// swapped in, and the previous one keeps running.
import { watch, type FSWatcher } from 'node:fs';
import { dirname, basename } from 'node:path';
import { alertFor, blockedAction, type Alert, type AlertDraft } from '../../model/alert.js';
import type { Event } from '../../model/event.js';
import { typeIndex } from '../../model/type-index.js';
import type { Logger } from '../../log.js';
import type { DetectContext, Detector } from '../detector.js';
import { FieldContext } from './context.js';
import { readAsWritten, restoreOpened, writtenName } from './falco-names.js';
import { DnsNames } from './dns-names.js';
import { NO_PERMISSION } from './container-files.js';
import { UserNames } from './users.js';
import { formatOutput } from './output.js';
import { problemText, RuleLoadError } from './problems.js';
import { classOf } from './classes.js';
import { MASK_BITS, type ClassRoute } from './router.js';
import { buildRuleSet, builtinFiles, Role, type LoadReport, type RouteEntry, type RuleSet } from './ruleset.js';

export interface RulesOptions {
  /** Load the built-in rule set. */
  builtin: boolean;
  /** Falco-format rule files, loaded after the built-in rules, in order. */
  files: readonly string[];
  /** Reload when one of the files changes. */
  watch: boolean;
  /** Resolve the domain names rules compare addresses with (fd.sip.name); default true. */
  resolveNames?: boolean;
  /** Where containers' user files are read: here first (auto), or through the probe only. */
  userFiles?: 'auto' | 'probe';
}

const RELOAD_DEBOUNCE_MS = 250;

export class RulesDetector implements Detector {
  readonly name = 'rules';
  private set: RuleSet | null = null;
  private readonly x: FieldContext;
  private watchers: FSWatcher[] = [];
  private reloadTimer: NodeJS.Timeout | null = null;
  /** Alerts raised, by rule. */
  readonly fired = new Map<string, number>();
  /** Rule evaluations that threw (a bug, never expected): counted and logged once per rule. */
  errors = 0;
  private readonly erroredRules = new Set<string>();
  reloads = 0;
  failedReloads = 0;

  constructor(
    private readonly opts: RulesOptions,
    private readonly log: Logger,
    context = new FieldContext(new UserNames('/', '/proc', undefined, opts.userFiles === 'probe')),
  ) {
    this.x = context;
    this.x.dns = new DnsNames(opts.resolveNames ?? true);
    // A weaker answer is said: ids the container's file does not name print as numbers (never by the node's names).
    this.x.users.onProblem = (p) => {
      if (p.problem === NO_PERMISSION) {
        this.log.warn({ problem: p.problem }, `containers' /etc/passwd and /etc/group cannot be read: ${p.problem}; their uids and gids print as numbers`);
        return;
      }
      this.log.warn(
        { containerId: p.containerId.slice(0, 12), file: `/etc/${p.file}`, problem: p.problem },
        `container ${p.containerId.slice(0, 12)}'s /etc/${p.file}: ${p.problem}; the ${p.file === 'passwd' ? 'uids' : 'gids'} it does not name print as numbers`,
      );
    };
  }

  /** The files of the configured rule set, in load order. */
  files(): string[] {
    return [...(this.opts.builtin ? builtinFiles() : []), ...this.opts.files];
  }

  /** User and group names (the engine wires the probe into them, and asks at a container's first event). */
  get users(): UserNames {
    return this.x.users;
  }

  get report(): LoadReport | null {
    return this.set?.report ?? null;
  }

  /** Loads the rule set; throws RuleLoadError (every error with file:line:col) when any file has errors. */
  load(): LoadReport {
    const set = buildRuleSet(this.files());
    if (set.report.errors.length > 0) throw new RuleLoadError([...set.report.errors, ...set.report.warnings]);
    this.swap(set);
    return set.report;
  }

  /** Loads again; on errors keeps the running set and logs them. Returns whether the new set is in use. */
  reload(): boolean {
    let set: RuleSet;
    try {
      set = buildRuleSet(this.files());
    } catch (err) {
      this.failedReloads++;
      this.log.error({ err }, 'rules reload failed: keeping the previous rules');
      return false;
    }
    if (set.report.errors.length > 0) {
      this.failedReloads++;
      this.log.error({ errors: set.report.errors.map(problemText) }, 'rules reload failed: keeping the previous rules');
      return false;
    }
    this.reloads++;
    this.swap(set);
    return true;
  }

  private swap(set: RuleSet): void {
    const r = set.report;
    for (const w of r.warnings) this.log.warn({ rule: w.item }, problemText(w));
    this.log.info(
      { files: r.files.length, rules: r.total, loaded: r.loaded, skipped: r.skipped.length, disabled: r.disabled },
      `rules loaded: ${r.loaded} of ${r.total} running`,
    );
    this.set = set;
    this.x.dns.watch(set.dnsNames);
    if (set.dnsNames.length > 0 && !this.x.dns.enabled) {
      this.log.warn(
        { names: set.dnsNames.length },
        'rules compare addresses with domain names (fd.sip.name & co.) but rules.resolveNames is false: those comparisons never match',
      );
    }
  }

  /** Watches the rule files; a change reloads them (debounced). */
  watch(): void {
    if (!this.opts.watch || this.watchers.length > 0) return;
    // Editors often replace a file (write elsewhere, rename over it): watch the directory and filter by name.
    const byDir = new Map<string, Set<string>>();
    for (const f of this.opts.files) {
      const d = dirname(f);
      if (!byDir.has(d)) byDir.set(d, new Set());
      byDir.get(d)!.add(basename(f));
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          if (name === null || names.has(String(name))) this.scheduleReload();
        });
        w.on('error', (err) => this.log.warn({ err, dir }, 'rule file watch failed'));
        this.watchers.push(w);
      } catch (err) {
        this.log.warn({ err, dir }, 'cannot watch rule files: reload with SIGHUP');
      }
    }
  }

  private scheduleReload(): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      this.log.info('rule files changed: reloading');
      this.reload();
    }, RELOAD_DEBOUNCE_MS);
    this.reloadTimer.unref();
  }

  onEvent(e: Event, ctx: DetectContext): void {
    const set = this.set;
    if (!set) return;
    const x = this.x;
    x.tree = ctx.tree;
    x.seq++;
    if (set.needsStarts && e.type === 'fork') x.noteFork(e);
    const tr = set.byTypeIndex[typeIndex(e.type)]!;
    const cr = tr.classes[classOf(tr.classKind, e)]!;
    const list = cr.entries;
    if (list.length === 0) return;
    // Entries whose filters (the path, the process name … alone) rule them out are not called.
    let mask = -1;
    const filters = cr.filters;
    for (let f = 0; f < filters.length && mask !== 0; f++) mask &= filters[f]!.mask(e, x);
    // Falco-format rules reading an open's path are judged on the name as written too (falco-names.ts).
    const written = cr.asWritten ? writtenName(e) : null;
    if (written !== null) {
      this.runBothNames(cr, mask, e, ctx, written);
      return;
    }
    // The entries the mask leaves, by its set bits (lowest first: rule
    // order), not every entry tested: most events leave one or two of a
    // dozen, and the skipped ones cost a loop turn each.
    // 31: MASK_BITS, written out (an imported constant is a load and a check per use).
    const n = list.length;
    for (let m = n >= 31 ? mask & 0x7fffffff : mask & ((1 << n) - 1); m !== 0; m &= m - 1) this.run(list[31 - Math.clz32(m & -m)]!, e, x, ctx);
    for (let i = 31; i < n; i++) this.run(list[i]!, e, x, ctx);
  }

  private run(r: RouteEntry, e: Event, x: FieldContext, ctx: DetectContext): void {
    let hit: boolean;
    try {
      hit = r.fn(e, x);
    } catch (err) {
      this.ruleError(r, err);
      return;
    }
    if (hit) this.matched(r, e, ctx, null);
  }

  /** onEvent's loop for an open named otherwise than the file it opened: the rules that take it judge both names. */
  private runBothNames(cr: ClassRoute, mask: number, e: Event, ctx: DetectContext, written: string): void {
    const x = this.x;
    const { entries: list, filters } = cr;
    let writtenMask = -1;
    readAsWritten(e, written);
    try {
      for (let f = 0; f < filters.length && writtenMask !== 0; f++) writtenMask &= filters[f]!.mask(e, x);
    } finally {
      restoreOpened(e);
    }
    for (let i = 0; i < list.length; i++) {
      const r = list[i]!;
      const masked = i < MASK_BITS;
      let hit: boolean;
      let asWritten = false;
      try {
        hit = (!masked || (mask & (1 << i)) !== 0) && r.fn(e, x);
        if (!hit && r.asWritten && (!masked || (writtenMask & (1 << i)) !== 0)) {
          readAsWritten(e, written);
          try {
            hit = asWritten = r.fn(e, x);
          } finally {
            restoreOpened(e);
          }
        }
      } catch (err) {
        this.ruleError(r, err);
        continue;
      }
      if (hit) this.matched(r, e, ctx, asWritten ? written : null);
    }
  }

  /** `written`: the rule matched the open by the name as written, which its state and output then read too. */
  private matched(r: RouteEntry, e: Event, ctx: DetectContext, written: string | null): void {
    if (written !== null) readAsWritten(e, written);
    let extra: Record<string, number> | null;
    try {
      extra = this.stateful(r, e);
    } finally {
      if (written !== null) restoreOpened(e);
    }
    if (extra === null) return;
    const rule = r.rule;
    this.fired.set(rule.name, (this.fired.get(rule.name) ?? 0) + 1);
    const draft: AlertDraft = { source: 'rule', rule: rule.name, priority: rule.priority, event: e, action: blockedAction(e) };
    // The output (argv redacted, the tree walked) only when the alert is built: a repeat noise control folds is only counted.
    const build = (): Alert => {
      if (written !== null) readAsWritten(e, written);
      let out: ReturnType<typeof formatOutput>;
      try {
        out = formatOutput(rule.output, e, this.x);
      } finally {
        if (written !== null) restoreOpened(e);
      }
      return alertFor(e, ctx.tree, {
        source: 'rule', rule: rule.name, priority: rule.priority, message: out.message, output: out.output, tags: rule.tags,
        fields: { ...out.fields, ...extra }, action: draft.action,
      });
    };
    if (ctx.raiseUnlessFolded) ctx.raiseUnlessFolded(draft, build);
    else ctx.raise(build());
  }

  /** A threshold's or sequence's part: the alert's extra fields, or null when it does not alert. */
  private stateful(r: RouteEntry, e: Event): Record<string, number> | null {
    switch (r.role) {
      case Role.SequenceAfter:
        r.sequence!.record(e, this.x);
        return null;
      case Role.SequenceMatch:
        return r.sequence!.matches(e, this.x) ? {} : null;
      case Role.Threshold: {
        // Most events a threshold counts do not cross it: nothing allocated for them.
        const n = r.threshold!.hit(e, this.x);
        if (n === 0) return null;
        return { 'threshold.count': n, 'threshold.window_ms': r.rule.threshold!.windowMs };
      }
      case Role.Alert:
        return {};
    }
  }

  private ruleError(r: RouteEntry, err: unknown): void {
    this.errors++;
    if (this.erroredRules.has(r.rule.name)) return;
    this.erroredRules.add(r.rule.name);
    this.log.error({ err, rule: r.rule.name }, 'rule evaluation failed (counted; logged once per rule)');
  }

  close(): void {
    this.x.dns.close();
    for (const w of this.watchers) w.close();
    this.watchers = [];
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = null;
  }
}
