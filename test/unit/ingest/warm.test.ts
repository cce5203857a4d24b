// The decoder's start-up warm-up (src/ingest/warm.ts) only prevents
// deoptimisations if its made-up batches reach every branch a real probe's
// events take: events of every type, none rejected (a rejected event
// leaves the rest of its kind's fields unread), and the fields that are
// set decoded as set.
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../../src/model/event.js';
import { messageType } from '../../../src/rpc/proto.js';
import { warmDecoder } from '../../../src/ingest/warm.js';

describe('decoder warm-up', () => {
  it('decodes events of every type, each kind with its fields and without, none rejected', () => {
    const r = warmDecoder();
    expect(r.rejected).toEqual([]);
    expect([...r.types].sort()).toEqual([...EVENT_TYPES].sort());
    // Every oneof member: three variants of values, and once empty.
    expect(r.events).toBe(messageType('Event').oneofs['kind']!.fieldsArray.length * 4);
  });
});
