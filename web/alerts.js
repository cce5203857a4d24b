// @ts-check
// Alerts: counts over time by priority, rule, source, tag or workload; a
// table with filters; each alert opens into its process ancestry, event,
// output fields, the action taken and its capture file.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import { download, get } from './http.js';
import { ErrorLine, html, KeyValues, PRIORITIES, Priority, time, useLive, useLoad } from './ui.js';

/** @typedef {import('../src/console/api.js').Alert} Alert */
/** @typedef {import('../src/console/api.js').AlertPage} AlertPage */
/** @typedef {import('../src/console/api.js').AlertCounts} AlertCounts */

const COLORS = ['#c0392b', '#e67e22', '#f1c40f', '#27ae60', '#2980b9', '#8e44ad', '#16a085', '#7f8c8d', '#bdc3c7'];
const PRIORITY_COLORS = { emergency: '#7b0000', alert: '#a00000', critical: '#d62728', error: '#ff7f0e', warning: '#e6b800', notice: '#1f77b4', informational: '#7f7f7f', debug: '#bbbbbb' };

/** @param {{ counts: AlertCounts, dimension: string }} p */
function Chart({ counts, dimension }) {
  const el = useRef(/** @type {HTMLDivElement | null} */ (null));
  useEffect(() => {
    const series = counts.series[dimension] ?? {};
    const names = Object.keys(series).sort((a, b) => (dimension === 'priority' ? PRIORITIES.indexOf(a) - PRIORITIES.indexOf(b) : a.localeCompare(b)));
    const data = /** @type {uPlot.AlignedData} */ ([counts.times.map((t) => t / 1000), ...names.map((n) => series[n] ?? [])]);
    const width = Math.max(320, (el.current?.clientWidth ?? 800) - 8);
    const plot = new uPlot({
      width, height: 180,
      scales: { x: { time: true } },
      axes: [{}, { label: 'alerts / min', size: 50 }],
      series: [{}, ...names.map((n, i) => ({
        label: n,
        stroke: dimension === 'priority' ? (/** @type {Record<string, string>} */ (PRIORITY_COLORS))[n] ?? COLORS[i % COLORS.length] : COLORS[i % COLORS.length],
        width: 2,
        // A minute with alerts between quiet ones is a point, not just a kink in the line.
        points: { show: true, size: 5 },
      }))],
    }, data, /** @type {HTMLElement} */ (el.current));
    return () => plot.destroy();
  }, [counts, dimension]);
  return html`<div class="chart" ref=${el} data-dimension=${dimension}></div>`;
}

/** @param {{ alert: Alert }} p */
function AlertDetail({ alert: a }) {
  const file = a.fields['vigil.capture.file'];
  const captureName = typeof file === 'string' ? file.split('/').pop() ?? '' : '';
  return html`<div class="detail">
    <div class="cols">
      <section>
        <h4>Process</h4>
        <ol class="ancestry">
          <li><code>${a.process.exe || a.process.comm || '—'}</code> <span class="muted">pid ${a.process.pid}, uid ${a.process.uid}</span><div class="cmd">${a.process.cmdline}</div></li>
          ${a.process.parents.map((p) => html`<li><code>${p.exe || '—'}</code> <span class="muted">pid ${p.pid}</span><div class="cmd">${p.cmdline}</div></li>`)}
        </ol>
        <h4>Action taken</h4>
        <p class=${a.action.ok ? '' : 'error'}>${a.action.taken}${a.action.detail ? ` — ${a.action.detail}` : ''}</p>
        ${captureName ? html`<p><button type="button" onClick=${() => download(`/api/captures/${encodeURIComponent(captureName)}`, captureName)}>Download capture ${captureName}</button></p>` : null}
      </section>
      <section>
        <h4>Event</h4>
        <${KeyValues} entries=${Object.entries(a.event)} />
        <h4>Output fields</h4>
        ${Object.keys(a.fields).length ? html`<${KeyValues} entries=${Object.entries(a.fields)} />` : html`<p class="muted">none</p>`}
      </section>
      <section>
        <h4>Alert</h4>
        <${KeyValues} entries=${[
          ['id', a.id], ['time', a.time], ['source', a.source], ['node', a.node], ['workload', a.workload.name], ['namespace', a.workload.namespace || '—'],
          ['pod', a.workload.pod || '—'], ['container', a.workload.container || '—'], ['mode', a.workload.mode || '—'], ['count', String(a.count)], ['tags', a.tags.join(', ') || '—'],
        ]} />
        <h4>Output</h4>
        <pre class="output">${a.output}</pre>
      </section>
    </div>
  </div>`;
}

export function AlertsPage() {
  const [filter, setFilter] = useState({ priority: '', rule: '', workload: '', namespace: '', since: '1h', q: '' });
  const [dimension, setDimension] = useState('priority');
  const [open, setOpen] = useState(/** @type {string | null} */ (null));
  const query = new URLSearchParams(Object.entries(filter).filter(([, v]) => v !== '')).toString();
  const page = useLoad(() => get(`/api/alerts?${query}`), [query]);
  const minutes = { '15m': 15, '1h': 60, '6h': 360, '24h': 1440, '': 1440 }[filter.since] ?? 60;
  const counts = useLoad(() => get(`/api/alerts/counts?minutes=${minutes}`), [minutes]);
  const workloads = useLoad(() => get('/api/workloads'), []);
  // New alerts: reload (at most twice a second).
  const pending = useRef(/** @type {number | null} */ (null));
  useLive((event) => {
    if (event !== 'alert' || pending.current !== null) return;
    pending.current = window.setTimeout(() => {
      pending.current = null;
      page.reload();
      counts.reload();
    }, 500);
  }, [page.reload, counts.reload]);
  /** @param {string} k @returns {(e: Event) => void} */
  const set = (k) => (e) => setFilter({ ...filter, [k]: /** @type {HTMLInputElement} */ (e.currentTarget).value });
  /** @type {AlertPage | undefined} */
  const p = /** @type {any} */ (page.data);
  /** @type {AlertCounts | undefined} */
  const c = /** @type {any} */ (counts.data);
  const rules = c ? Object.keys(c.series.rule ?? {}).filter((r) => r !== '(other)') : [];
  const wl = /** @type {{name: string, namespace: string}[]} */ (workloads.data ?? []);
  const totals = c ? Object.entries(c.series.priority ?? {}).map(([k, v]) => [k, v.reduce((a, b) => a + b, 0)]) : [];
  return html`<div class="page alerts">
    <h2>Alerts</h2>
    <form class="filters" onSubmit=${(/** @type {Event} */ e) => e.preventDefault()}>
      <label>Priority <select name="priority" value=${filter.priority} onChange=${set('priority')}>
        <option value="">any</option>${PRIORITIES.map((x) => html`<option value=${x}>${x} or worse</option>`)}
      </select></label>
      <label>Rule <input name="rule" list="rules" value=${filter.rule} onChange=${set('rule')} placeholder="any" /></label>
      <datalist id="rules">${rules.map((r) => html`<option value=${r} />`)}</datalist>
      <label>Workload <input name="workload" list="workload-names" value=${filter.workload} onChange=${set('workload')} placeholder="any" /></label>
      <datalist id="workload-names">${wl.map((w) => html`<option value=${w.name} />`)}</datalist>
      <label>Namespace <input name="namespace" value=${filter.namespace} onChange=${set('namespace')} placeholder="any" /></label>
      <label>Since <select name="since" value=${filter.since} onChange=${set('since')}>
        <option value="15m">15 min</option><option value="1h">1 hour</option><option value="6h">6 hours</option><option value="24h">24 hours</option><option value="">all held</option>
      </select></label>
      <label class="grow">Search <input name="q" type="search" value=${filter.q} onInput=${set('q')} placeholder="text in message, process, event…" /></label>
    </form>
    <div class="totals">${totals.map(([k, n]) => html`<span class="total"><${Priority} priority=${k} /> ${n}</span>`)}</div>
    <div class="chart-head">
      <span>Alerts per minute by</span>
      ${['priority', 'rule', 'source', 'tag', 'workload'].map((d) => html`<button type="button" class=${d === dimension ? 'tab on' : 'tab'} onClick=${() => setDimension(d)}>${d}</button>`)}
    </div>
    ${c ? html`<${Chart} counts=${c} dimension=${dimension} />` : null}
    <${ErrorLine} error=${page.error || counts.error} />
    ${p ? html`<p class="muted">${p.matched} matching of ${p.held} held (the console keeps the latest ${p.limit}; ${p.evicted} older dropped)</p>` : null}
    <table class="list alerts-table">
      <thead><tr><th>Time</th><th>Priority</th><th>Rule</th><th>Workload</th><th>Namespace</th><th>Process</th><th>Message</th><th>Action</th></tr></thead>
      <tbody>
        ${(p?.alerts ?? []).map((a) => html`
          <tr key=${a.id} class=${`row ${open === a.id ? 'open' : ''}`} data-alert=${a.id} onClick=${() => setOpen(open === a.id ? null : a.id)}>
            <td class="nowrap">${time(a.time)}</td>
            <td><${Priority} priority=${a.priority} /></td>
            <td>${a.rule}</td>
            <td>${a.workload.name}</td>
            <td>${a.workload.namespace || '—'}</td>
            <td><code>${a.process.exe}</code></td>
            <td class="msg">${a.message}${a.count > 1 ? html` <span class="muted">×${a.count}</span>` : null}</td>
            <td>${a.action.taken === 'none' ? '—' : a.action.taken}</td>
          </tr>
          ${open === a.id ? html`<tr class="expanded"><td colspan="8"><${AlertDetail} alert=${a} /></td></tr>` : null}`)}
      </tbody>
    </table>
  </div>`;
}
