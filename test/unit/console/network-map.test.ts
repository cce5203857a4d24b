// The map names an external peer by the DNS name the workload resolved it
// from (the engine sets Event.sipName from answers seen in the kernel;
// test/kernel/dns.test.ts drives that for real), and by its address otherwise.
import { describe, expect, it } from 'vitest';
import { NetworkMap } from '../../../src/console/network-map.js';
import { emptyEvent, type Event } from '../../../src/model/event.js';
import { nodeWorkload } from '../../../src/model/workload.js';

function connect(addr: string, name: string): Event {
  const e = emptyEvent('connect');
  e.workload = { ...nodeWorkload('n'), key: 'k8s:shop/Deployment/web', name: 'shop/web', namespace: 'shop', kind: 'k8s' };
  e.addr = addr;
  e.port = 443;
  e.protocol = 'tcp';
  e.sipName = name;
  e.time = Date.now();
  return e;
}

describe("the console's network map", () => {
  it('labels an external peer with the name it was resolved from, and a peer without one by its address', () => {
    const map = new NetworkMap(100);
    map.onEvent(connect('198.51.100.7', 'api.payments.example'));
    map.onEvent(connect('203.0.113.9', ''));
    const labels = map.view(() => false).nodes.filter((n) => n.kind === 'external').map((n) => n.label).sort();
    expect(labels).toEqual(['203.0.113.9', 'api.payments.example (198.51.100.7)']);
  });
});
