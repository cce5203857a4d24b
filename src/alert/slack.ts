// An alert as a Slack incoming-webhook message: Block Kit blocks inside an
// attachment (the only place Slack shows a colour bar), the priority as
// colour, and a "what to do next" line chosen by where the alert came from.
import { severity, type Alert } from '../model/alert.js';
import { shown } from '../model/text.js';
import { eventDetail, FALCO_PRIORITY, oneLine, workloadLabel } from './render.js';

export const PRIORITY_COLOUR: Record<Alert['priority'], string> = {
  emergency: '#7b0000',
  alert: '#a30000',
  critical: '#d00000',
  error: '#e8590c',
  warning: '#f5a700',
  notice: '#2f7ed8',
  informational: '#5bc0de',
  debug: '#9e9e9e',
};

interface TextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}
type Block =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text?: TextObject; fields?: TextObject[] }
  | { type: 'context'; elements: TextObject[] };

export interface SlackMessage {
  /** Shown in notifications and where blocks cannot be. */
  text: string;
  attachments: { color: string; blocks: Block[] }[];
}

// Slack's limits: header 150 characters, section text 3000, field 2000.
const HEADER_MAX = 150;
const FIELD_MAX = 1900;

/** The next step for whoever reads the alert, by source, priority and what Vigil already did. */
export function nextStep(a: Alert): string {
  // Names the process or workload chose are quoted when they could read as more than a name.
  const where = shown(workloadLabel(a));
  const exe = a.process.exe || a.process.comm ? shown(a.process.exe || a.process.comm) : 'the process';
  if (a.source === 'response') {
    return a.action.ok
      ? `Vigil already ${a.action.taken === 'none' ? 'responded' : a.action.taken} ${exe} in ${where}: confirm the workload is healthy, then review the capture and the parent chain for how it got in.`
      : `The automatic response (${a.action.taken}) failed: contain ${where} by hand now (isolate or scale it to zero), then investigate.`;
  }
  if (a.source === 'engine') return 'Vigil itself needs attention: run `vigil status` on the node and read the engine log.';
  if (a.action.taken !== 'none' && a.action.ok) {
    return `Vigil ${a.action.taken} ${exe}. Check what else ${where} did around ${a.time} and how the process was started (parents above).`;
  }
  if (severity(a.priority) <= severity('critical')) {
    return `Treat ${where} as compromised: isolate it (switch it to enforce mode or quarantine the pod), keep its state for forensics, and trace the parent chain to the entry point.`;
  }
  if (a.source === 'profile') {
    return `New behaviour for ${where}. If it follows a deploy or config change, let the profile learn it; otherwise find out why ${exe} did this.`;
  }
  if (severity(a.priority) <= severity('warning')) {
    return `Check whether ${exe} is expected to do this in ${where}. If not, investigate its parents and consider enforce mode for the workload.`;
  }
  return `For the record; no action needed unless it repeats or joins other alerts on ${where}.`;
}

export function slackMessage(a: Alert): SlackMessage {
  const p = a.process;
  const w = a.workload;
  const priority = FALCO_PRIORITY[a.priority];
  // Names can come from the workload (cgroup and container names): shown verbatim, like the process's.
  const fields: TextObject[] = [field('Workload', w.name ? code(w.name) : '-')];
  if (w.namespace || w.pod) fields.push(field('Namespace / pod / container', [w.namespace, w.pod, w.container].map((s) => (s ? code(s) : '-')).join(' / ')));
  // Alerts about a workload or about Vigil itself have no process or event.
  if (p.pid) {
    fields.push(
      field('Process', `${code(p.exe || p.comm)} pid ${p.pid}, uid ${p.uid}`),
      field('Command', code(p.cmdline || p.comm)),
      field('Parents', p.parents.length ? p.parents.slice(0, 4).map((x) => code(x.exe || String(x.pid))).join(' ← ') : '-'),
    );
  }
  if (a.event.type) fields.push(field('Event', code(eventDetail(a.event))));
  fields.push(field('Node', esc(a.node)), field('Mode / action', esc(`${w.mode || '-'} / ${a.action.taken}${a.action.ok ? '' : ' (failed)'}`)));
  const context = [`*${esc(a.source)}* · ${esc(a.time)}`];
  if (a.tags.length) context.push(`tags: ${esc(a.tags.join(', '))}`);
  if (a.count > 1) context.push(`×${a.count}`);
  return {
    text: cut(`${priority}: ${oneLine(a.rule)} in ${shown(workloadLabel(a))}`, 3000),
    attachments: [
      {
        color: PRIORITY_COLOUR[a.priority],
        blocks: [
          { type: 'header', text: { type: 'plain_text', text: cut(`${priority}: ${oneLine(a.rule)}`, HEADER_MAX), emoji: false } },
          { type: 'section', text: { type: 'mrkdwn', text: cut(esc(a.message) + (a.count > 1 ? ` (×${a.count})` : ''), 3000) } },
          { type: 'section', fields },
          { type: 'section', text: { type: 'mrkdwn', text: cut(`*What to do next:* ${esc(nextStep(a))}`, 3000) } },
          { type: 'context', elements: [{ type: 'mrkdwn', text: cut(context.join(' · '), 3000) }] },
        ],
      },
    ],
  };
}

function field(title: string, value: string): TextObject {
  return { type: 'mrkdwn', text: cut(`*${title}*\n${value}`, FIELD_MAX) };
}

/** Slack's mrkdwn escaping: without it a command line could ping @channel or forge a link. */
function esc(s: string): string {
  return oneLine(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Text the process chose (names, paths, command lines), shown verbatim in a code span. */
function code(s: string): string {
  return `\`${cut(esc(s).replace(/`/g, "'"), 1500)}\``;
}

function cut(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}
