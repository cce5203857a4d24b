// What a set of rule files defines, as the reader hands it to the
// collector and the collector hands it to the compiler: lists, macros and
// rules with every override applied, each keeping where it came from so
// later errors can name a file, line and column.
import type { Priority } from '../../model/alert.js';
import type { Loc } from './problems.js';
import type { SourceText } from './source.js';

export interface RuleFile {
  file: string;
  text: string;
}

export interface ListItemDef {
  v: string;
  quoted: boolean;
  at: Loc;
}

export interface ListDef {
  name: string;
  items: ListItemDef[];
  at: Loc;
}

export interface MacroDef {
  name: string;
  parts: SourceText[];
  at: Loc;
}

export interface ExceptionValue {
  /** One value, or several for list comparisons (in, pmatch, intersects). */
  values: ListItemDef[];
  list: boolean;
  at: Loc;
}

export interface ExceptionDef {
  name: string;
  fields: string[];
  /** `fields:` given as one field rather than a list: values are that field's values. */
  single: boolean;
  comps: string[];
  /** One tuple (one value per field) per entry. */
  values: ExceptionValue[][];
  at: Loc;
}

/** Vigil extension: raise when `count` matching events (or distinct values) happen within `windowMs`, per key. */
export interface ThresholdDef {
  by: string[];
  distinct: string[];
  count: number;
  windowMs: number;
  at: Loc;
}

/** Vigil extension: raise when an event matches after an earlier one (`after`) captured the value it matches. */
export interface SequenceDef {
  after: SourceText;
  capture: string;
  match: string;
  by: string[];
  withinMs: number;
  at: Loc;
}

export interface RuleDef {
  name: string;
  desc: string;
  /** The condition: its text, then each text appended to it. */
  parts: SourceText[];
  output: string;
  priority: Priority;
  tags: string[];
  enabled: boolean;
  exceptions: ExceptionDef[];
  source: string;
  threshold: ThresholdDef | null;
  sequence: SequenceDef | null;
  at: Loc;
  /** Where the output text is (for output field warnings). */
  outputAt: Loc;
}
