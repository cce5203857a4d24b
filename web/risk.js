// @ts-check
// Risk: the node's and each workload's score with every factor and its
// points; a report for a namespace or the node that prints cleanly to PDF
// (the page's print style drops the console around it), or downloads as
// one standalone HTML file.
import { useState } from 'preact/hooks';
import { download, get } from './http.js';
import { ErrorLine, html, Score, time, useLoad } from './ui.js';

/** @typedef {import('../src/console/api.js').RiskView} RiskView */
/** @typedef {import('../src/console/api.js').RiskScore} RiskScore */

/** @param {{ r: RiskScore }} p */
function Factors({ r }) {
  return html`<table class="factors">
    <thead><tr><th>Factor</th><th>Found</th><th class="pts">Points</th></tr></thead>
    <tbody>${r.factors.map((f) => html`<tr data-factor=${f.id}><td>${f.label}</td><td class="detail">${f.detail}</td><td class="pts">${f.points}</td></tr>`)}</tbody>
  </table>`;
}

/** @param {string} namespace */
function reportHash(namespace) {
  return `#/report${namespace ? `?namespace=${encodeURIComponent(namespace)}` : ''}`;
}

export function RiskPage() {
  const risk = useLoad(() => get('/api/risk'), []);
  const [open, setOpen] = useState(/** @type {string | null} */ (null));
  const [ns, setNs] = useState('');
  /** @type {RiskView | undefined} */
  const v = /** @type {any} */ (risk.data);
  const namespaces = [...new Set((v?.workloads ?? []).map((w) => w.namespace).filter(Boolean))].sort();
  return html`<div class="page risk">
    <h2>Risk</h2>
    <${ErrorLine} error=${risk.error} />
    ${v ? html`
      <section class="node-risk">
        <h3>Node ${v.node.subject} <${Score} level=${v.node.level} score=${v.node.score} /></h3>
        <${Factors} r=${v.node} />
      </section>
      <div class="toolbar">
        <label>Report for <select name="report-scope" value=${ns} onChange=${(/** @type {Event} */ e) => setNs(/** @type {HTMLSelectElement} */ (e.currentTarget).value)}>
          <option value="">the whole node</option>${namespaces.map((n) => html`<option value=${n}>namespace ${n}</option>`)}
        </select></label>
        <a class="button open-report" href=${reportHash(ns)}>Open printable report</a>
        <button type="button" onClick=${() => download(`/api/report${ns ? `?namespace=${encodeURIComponent(ns)}` : ''}`, `vigil-risk-${ns || v.node.subject}.html`)}>Download HTML</button>
      </div>
      <table class="list risk-table">
        <thead><tr><th>Workload</th><th>Namespace</th><th>Score</th><th>Top factors</th></tr></thead>
        <tbody>${v.workloads.map((w) => html`
          <tr key=${w.subject} class="row" data-workload=${w.subject} onClick=${() => setOpen(open === w.subject ? null : w.subject)}>
            <td>${w.subject}</td><td>${w.namespace || '—'}</td><td><${Score} level=${w.level} score=${w.score} /></td>
            <td class="small">${[...w.factors].filter((f) => f.points > 0).sort((a, b) => b.points - a.points).slice(0, 3).map((f) => `${f.label} (${f.points})`).join(' · ') || '—'}</td>
          </tr>
          ${open === w.subject ? html`<tr class="expanded"><td colspan="4"><${Factors} r=${w} /></td></tr>` : null}`)}
        </tbody>
      </table>
      <p class="muted small">Points: learn 25, monitor 10; 5 per open anomaly (≤30); 7 per new egress destination (≤20); privileged 20; root processes 10; 5 per port open beyond loopback (≤15); 15 per critical and 5 per error alert (≤30). Levels: 20 medium, 45 high, 70 critical.</p>
    ` : null}
  </div>`;
}

/** @param {{ namespace: string }} p */
export function ReportPage({ namespace }) {
  const risk = useLoad(() => get(`/api/risk${namespace ? `?namespace=${encodeURIComponent(namespace)}` : ''}`), [namespace]);
  /** @type {RiskView | undefined} */
  const v = /** @type {any} */ (risk.data);
  return html`<article class="report">
    <div class="no-print toolbar"><a href="#/risk">← Risk</a> <button type="button" class="print" onClick=${() => window.print()}>Print / save as PDF</button></div>
    <${ErrorLine} error=${risk.error} />
    ${v ? html`
      <h1>Vigil risk report: ${namespace ? `namespace ${namespace}` : `node ${v.node.subject}`}</h1>
      <p class="muted">Generated ${time(v.generated)} on node ${v.node.subject}. Scores rank what Vigil observed on this node; each factor shows its points.</p>
      <section class="keep"><h2>Node ${v.node.subject} <${Score} level=${v.node.level} score=${v.node.score} /></h2><${Factors} r=${v.node} /></section>
      <h2>Workloads (${v.workloads.length})</h2>
      ${v.workloads.map((w) => html`<section class="keep"><h3>${w.subject} ${w.namespace ? html`<span class="muted">(${w.namespace})</span>` : null} <${Score} level=${w.level} score=${w.score} /></h3><${Factors} r=${w} /></section>`)}
    ` : null}
  </article>`;
}
