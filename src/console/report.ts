// The risk report as one standalone HTML file (a namespace's workloads or
// the whole node): readable offline, printable to PDF (A4, no page breaks
// inside a workload). Every value is escaped: workload names and factor
// details carry attacker-controlled paths and argv.
import { createHash } from 'node:crypto';
import type { RiskScore } from './api.js';

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const REPORT_STYLE = `
  @page { size: A4; margin: 16mm 14mm; }
  body { font: 11pt/1.4 "DejaVu Sans", system-ui, sans-serif; color: #111; margin: 0 auto; max-width: 60em; padding: 1em; }
  h1 { font-size: 18pt; margin: 0 0 .2em; }
  h2 { font-size: 13pt; margin: 1.2em 0 .3em; }
  .meta { color: #444; margin: 0 0 1em; }
  .score { display: inline-block; min-width: 2.6em; text-align: center; font-weight: bold; border-radius: 3px; padding: 0 .3em; border: 1px solid #888; }
  .low { background: #e5f5e5; } .medium { background: #fff4d6; } .high { background: #ffe0cc; } .critical { background: #ffd0d0; }
  table { border-collapse: collapse; width: 100%; margin: .3em 0 1em; }
  th, td { text-align: left; vertical-align: top; padding: .2em .4em; border-bottom: 1px solid #ccc; }
  td.pts { text-align: right; width: 3em; }
  td.detail { overflow-wrap: anywhere; }
  section { break-inside: avoid; page-break-inside: avoid; }
  @media print { body { padding: 0; max-width: none; } }
`;

/** The CSP hash of the report's one inline style. */
export const REPORT_STYLE_HASH = `sha256-${createHash('sha256').update(REPORT_STYLE).digest('base64')}`;

function factorTable(r: RiskScore): string {
  const rows = r.factors
    .map((f) => `<tr><td>${escapeHtml(f.label)}</td><td class="detail">${escapeHtml(f.detail)}</td><td class="pts">${f.points}</td></tr>`)
    .join('');
  return `<table><thead><tr><th>Factor</th><th>Found</th><th class="pts">Points</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function scoreBadge(r: RiskScore): string {
  return `<span class="score ${r.level}">${r.score}</span> ${escapeHtml(r.level)}`;
}

export interface ReportInput {
  /** "Namespace shop" or "Node node-1". */
  scope: string;
  node: RiskScore;
  workloads: RiskScore[];
  generated: string;
  version: string;
}

export function renderReport(r: ReportInput): string {
  const sorted = [...r.workloads].sort((a, b) => b.score - a.score || (a.subject < b.subject ? -1 : 1));
  const summary = sorted
    .map((w) => `<tr><td>${escapeHtml(w.subject)}</td><td>${escapeHtml(w.namespace || '—')}</td><td>${scoreBadge(w)}</td></tr>`)
    .join('');
  const sections = sorted
    .map((w) => `<section><h2>${escapeHtml(w.subject)} ${scoreBadge(w)}</h2>${factorTable(w)}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src '${REPORT_STYLE_HASH}'">
<title>Vigil risk report: ${escapeHtml(r.scope)}</title>
<style>${REPORT_STYLE}</style></head>
<body>
<h1>Vigil risk report: ${escapeHtml(r.scope)}</h1>
<p class="meta">Generated ${escapeHtml(r.generated)} by Vigil ${escapeHtml(r.version)} on node ${escapeHtml(r.node.subject)}. Scores rank what Vigil observed on this node; each factor shows its points.</p>
<section><h2>Node ${escapeHtml(r.node.subject)} ${scoreBadge(r.node)}</h2>${factorTable(r.node)}</section>
<h2>Workloads (${sorted.length})</h2>
<table><thead><tr><th>Workload</th><th>Namespace</th><th>Score</th></tr></thead><tbody>${summary || '<tr><td colspan="3">none</td></tr>'}</tbody></table>
${sections}
</body></html>
`;
}
