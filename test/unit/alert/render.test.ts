// Renderings a user reads or a tool parses: Falco's shape, the "what to do
// next" line, and the priority colours.
import { describe, expect, it } from 'vitest';
import { PRIORITIES } from '../../../src/model/alert.js';
import { noticeAlert } from '../../../src/alert/notice.js';
import { falcoShape, FALCO_PRIORITY, textLine } from '../../../src/alert/render.js';
import { nextStep, PRIORITY_COLOUR, slackMessage } from '../../../src/alert/slack.js';
import { alert } from './support.js';

describe('Falco shape', () => {
  it("capitalises priorities as Falco does and keeps the rule's own output fields over Vigil's", () => {
    expect(PRIORITIES.map((p) => FALCO_PRIORITY[p])).toEqual(['Emergency', 'Alert', 'Critical', 'Error', 'Warning', 'Notice', 'Informational', 'Debug']);
    const f = falcoShape(alert({ fields: { 'proc.exe': 'as the rule saw it', 'fd.name': '/etc/shadow' } }));
    expect(Object.keys(f).sort()).toEqual(['hostname', 'output', 'output_fields', 'priority', 'rule', 'source', 'tags', 'time', 'uuid']);
    expect(f.output_fields['proc.exe']).toBe('as the rule saw it');
    expect(f.output_fields['fd.name']).toBe('/etc/shadow');
    expect(f.output_fields['proc.cmdline']).toBe('sh -c id');
  });
});

describe('what to do next', () => {
  it('depends on where the alert came from, its priority and what Vigil already did', () => {
    expect(nextStep(alert({ priority: 'critical' }))).toMatch(/^Treat .* as compromised/);
    expect(nextStep(alert({ priority: 'warning' }))).toMatch(/^Check whether \/bin\/sh is expected/);
    expect(nextStep(alert({ priority: 'informational' }))).toMatch(/^For the record/);
    expect(nextStep(alert({ source: 'profile', priority: 'notice' }))).toMatch(/^New behaviour for /);
    expect(nextStep(alert({ source: 'response', action: { taken: 'killed', ok: true, detail: '' } }))).toMatch(/^Vigil already killed \/bin\/sh/);
    expect(nextStep(alert({ source: 'response', action: { taken: 'quarantined', ok: false, detail: 'no probe' } }))).toMatch(/^The automatic response \(quarantined\) failed/);
    expect(nextStep(alert({ source: 'engine' }))).toMatch(/vigil status/);
  });

  it('gives every priority its own colour, most severe darkest red', () => {
    const colours = PRIORITIES.map((p) => slackMessage(alert({ priority: p })).attachments[0]!.color);
    expect(new Set(colours).size).toBe(PRIORITIES.length);
    expect(colours[0]).toBe(PRIORITY_COLOUR.emergency);
  });

  it('keeps within Slack limits when a command line is huge', () => {
    const m = slackMessage(alert({ rule: 'r'.repeat(500), message: 'm'.repeat(5000) }));
    const blocks = m.attachments[0]!.blocks;
    expect((blocks[0] as { text: { text: string } }).text.text.length).toBeLessThanOrEqual(150);
    expect((blocks[1] as { text: { text: string } }).text.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('alerts without a process or event', () => {
  it('leave those parts out rather than print empty ones', () => {
    const a = noticeAlert('node-a', 'alerts-rate-limited', 'warning', '3 alerts held back');
    expect(textLine(a)).toMatch(/\[alerts-rate-limited\] "3 alerts held back" \| workload="vigil" node="node-a" mode=- action=none tags="vigil"$/);
    const titles = (slackMessage(a).attachments[0]!.blocks[2] as { fields: { text: string }[] }).fields.map((f) => f.text.split('\n')[0]);
    expect(titles).toEqual(['*Workload*', '*Node*', '*Mode / action*']);
  });
});
