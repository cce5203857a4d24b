// Accepting an anomaly into a profile ("review rule"): for every kind the
// profile detector raises, the event that raised it is outside the
// profile before and inside it after — checked by the profile's own
// observe(), through the document round trip a reviewed policy takes.
import { describe, expect, it } from 'vitest';
import { acceptAnomaly } from '../../../src/detect/profile/accept.js';
import { diffDocuments, fromDocument, parsePolicyYaml, toDocument, toYaml } from '../../../src/detect/profile/policy.js';
import { DEFAULT_LIMITS, Profile } from '../../../src/detect/profile/profile.js';
import type { Event } from '../../../src/model/event.js';
import { makeEvent, type EventFields } from '../../support/events.js';

const W = { key: 'named:web', name: 'web', kind: 'named', namespace: '' };

function ev(type: Event['type'], fields: EventFields): Event {
  return makeEvent(type, { pid: 10, uid: 1000, ...fields });
}

/** A profile that learned a little of everything. */
function learned(): Profile {
  const p = new Profile(DEFAULT_LIMITS);
  p.observe(ev('exec', { path: '/usr/bin/web', argv: ['web', '--port', '80'] }), '/usr/bin/tini', true);
  p.observe(ev('open', { path: '/etc/web.conf', flags: 0 }), '', true);
  p.observe(ev('connect', { addr: '10.0.0.5', port: 5432, protocol: 'tcp' }), '', true);
  p.observe(ev('listen', { localPort: 80, protocol: 'tcp' }), '', true);
  p.observe(ev('accept', { addr: '10.0.0.9', localPort: 80, result: 4 }), '', true);
  return p;
}

const cases: { kind: string; event: Event; parent: string }[] = [
  { kind: 'new-executable', event: ev('exec', { path: '/usr/bin/curl', argv: ['curl', 'x'] }), parent: '/usr/bin/web' },
  { kind: 'new-user', event: ev('exec', { path: '/usr/bin/web', argv: ['web', '--port', '80'], uid: 0 }), parent: '/usr/bin/tini' },
  { kind: 'new-parent', event: ev('exec', { path: '/usr/bin/web', argv: ['web', '--port', '80'] }), parent: '/bin/sh' },
  { kind: 'new-arguments', event: ev('exec', { path: '/usr/bin/web', argv: ['web', '--debug'] }), parent: '/usr/bin/tini' },
  { kind: 'new-file-read', event: ev('open', { path: '/etc/shadow', flags: 0 }), parent: '' },
  { kind: 'new-file-write', event: ev('open', { path: '/etc/cron.d/x', flags: 0o101 }), parent: '' },
  { kind: 'new-egress', event: ev('connect', { addr: '203.0.113.9', port: 4444, protocol: 'tcp' }), parent: '' },
  { kind: 'new-egress', event: ev('connect', { addr: '2001:db8::7', port: 443, protocol: 'tcp' }), parent: '' },
  { kind: 'new-listen', event: ev('listen', { localPort: 8443, protocol: 'tcp' }), parent: '' },
  { kind: 'new-ingress', event: ev('accept', { addr: '192.0.2.1', localPort: 80, result: 4 }), parent: '' },
];

describe('accepting an anomaly into the profile', () => {
  for (const c of cases) {
    it(`${c.kind} (${c.event.path || c.event.addr || c.event.localPort})`, () => {
      const before = learned();
      const d = before.observe(c.event, c.parent, false);
      expect(d?.kind).toBe(c.kind);
      const doc = toDocument(before, W, 'monitor');
      const next = acceptAnomaly(doc, { kind: d!.kind, what: d!.what, process: { exe: c.event.path, parent: c.parent, uid: c.event.uid } });
      // Shown as a diff (a changed executable as its new and old line), applied as a reviewed policy is (validated YAML).
      const diff = diffDocuments(next, doc);
      expect(diff.filter((l) => l.startsWith('+ '))).toHaveLength(1);
      expect(diff.filter((l) => l.startsWith('- ')).every((l) => diff.some((x) => x.startsWith('+ process: ') && x.split(' ')[2] === l.split(' ')[2]))).toBe(true);
      const [applied] = parsePolicyYaml(toYaml([next]), 'accepted');
      const after = fromDocument(applied!, DEFAULT_LIMITS);
      expect(after.observe(c.event, c.parent, false)).toBeNull();
      // Nothing else changed: what was inside stays inside, the original document is untouched.
      expect(after.observe(ev('exec', { path: '/usr/bin/web', argv: ['web', '--port', '80'] }), '/usr/bin/tini', false)).toBeNull();
      expect(diffDocuments(toDocument(learned(), W, 'monitor'), doc)).toEqual([]);
    });
  }

  it('says so when the anomaly cannot be read as its kind', () => {
    const doc = toDocument(learned(), W, 'monitor');
    expect(() => acceptAnomaly(doc, { kind: 'new-egress', what: 'somewhere', process: { exe: '', parent: '', uid: 0 } })).toThrow('cannot read the new-egress anomaly "somewhere"');
    expect(() => acceptAnomaly(doc, { kind: 'Terminal shell in container', what: 'x', process: { exe: '', parent: '', uid: 0 } })).toThrow(/cannot be accepted into a profile/);
  });
});
