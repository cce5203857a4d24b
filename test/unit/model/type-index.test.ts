// Tables by event type (counters, rule routes) are indexed by typeIndex: it must be each type's place in EVENT_TYPES.
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../src/model/event.js';
import { typeIndex } from '../../../src/model/type-index.js';

describe('typeIndex', () => {
  it('is every type\'s index in EVENT_TYPES, one type per index', () => {
    expect(EVENT_TYPES.map((t) => typeIndex(t))).toEqual(EVENT_TYPES.map((_, i) => i));
  });
});
