// @ts-check
// Workloads: mode, how long each learned, open anomalies, quarantine and
// how enforcement works on this node; change the mode, quarantine,
// release, start a capture. Every action says what it did, and the
// latest actions (the audit log) are listed below.
import { useState } from 'preact/hooks';
import { download, get, post, workloadPath } from './http.js';
import { duration, ErrorLine, html, time, toast, useLive, useLoad } from './ui.js';

/** @typedef {import('../src/console/api.js').WorkloadView} WorkloadView */
/** @typedef {import('../src/console/api.js').ActionResult} ActionResult */
/** @typedef {import('../src/console/api.js').AuditEntry} AuditEntry */
/** @typedef {import('../src/console/api.js').CaptureView} CaptureView */

/**
 * Runs an action and tells the person how it went.
 * @param {string} path @param {unknown} body @param {() => void} after
 */
export async function act(path, body, after) {
  try {
    /** @type {ActionResult} */
    const r = await post(path, body);
    toast(r.ok, r.message + (r.warnings.length ? ` (${r.warnings.join('; ')})` : ''));
  } catch (err) {
    toast(false, String(/** @type {Error} */ (err).message));
  }
  after();
}

/** @param {{ w: WorkloadView, reload: () => void }} p */
function Row({ w, reload }) {
  const [mode, setMode] = useState(w.mode);
  const [seconds, setSeconds] = useState('30');
  const [busy, setBusy] = useState(false);
  const path = workloadPath(w.key);
  /** @param {string} verb @param {unknown} body */
  const run = async (verb, body) => {
    setBusy(true);
    await act(`${path}/${verb}`, body, reload);
    setBusy(false);
  };
  return html`<tr data-workload=${w.name}>
    <td><a href=${`#/profile/${encodeURIComponent(w.key)}`}>${w.name}</a><div class="muted small">${w.kind}${w.images.length ? ` · ${w.images.join(', ')}` : ''}</div></td>
    <td>${w.namespace || '—'}</td>
    <td class="nowrap">
      <select name="mode" aria-label=${`mode of ${w.name}`} value=${mode} onChange=${(/** @type {Event} */ e) => setMode(/** @type {HTMLSelectElement} */ (e.currentTarget).value)}>
        ${['learn', 'monitor', 'enforce'].map((m) => html`<option value=${m}>${m}</option>`)}
      </select>
      ${mode !== w.mode ? html` <button type="button" class="apply-mode" disabled=${busy} onClick=${() => run('mode', { mode })}>Set ${mode}</button>` : null}
    </td>
    <td class="nowrap" title=${w.learningSince ? `learning since ${time(w.learningSince)}` : ''}>${w.learningSince ? duration(w.learnedSeconds) : '—'}</td>
    <td><span class=${w.openAnomalies ? 'warn' : ''}>${w.openAnomalies}</span> <span class="muted">open / ${w.anomalyAlerts}</span></td>
    <td>${w.quarantine ? html`<span class="quarantined">quarantined</span><div class="muted small">${time(w.quarantine.since)}: ${w.quarantine.reason}</div>` : 'no'}</td>
    <td class="small">
      ${w.enforcement.active ? html`<strong>in the kernel</strong>` : w.mode === 'enforce' ? 'enforce (pending)' : html`<span class="muted">not enforcing</span>`}
      <ul class="mechanisms">${w.enforcement.mechanisms.map((m) => html`<li><b>${m.what}</b>: ${m.how}</li>`)}</ul>
      ${w.enforcement.gaps.length ? html`<ul class="gaps">${w.enforcement.gaps.map((g) => html`<li>${g}</li>`)}</ul>` : null}
    </td>
    <td>${w.privileged === null ? html`<span class="muted">unknown</span>` : w.privileged ? html`<span class="warn">yes</span>` : 'no'}</td>
    <td class="actions nowrap">
      ${w.quarantine
        ? html`<button type="button" class="release" disabled=${busy} onClick=${() => run('release', {})}>Release</button>`
        : html`<button type="button" class="quarantine danger" disabled=${busy} onClick=${() => confirm(`Cut ${w.name} off the network? Its processes keep running.`) && run('quarantine', { reason: 'from the console' })}>Quarantine</button>`}
      <span class="capture"><input type="number" min="1" max="600" aria-label="capture seconds" value=${seconds} onInput=${(/** @type {Event} */ e) => setSeconds(/** @type {HTMLInputElement} */ (e.currentTarget).value)} /> s
      <button type="button" class="start-capture" disabled=${busy} onClick=${() => run('capture', { seconds: Number(seconds) })}>Capture</button></span>
    </td>
  </tr>`;
}

export function WorkloadsPage() {
  const list = useLoad(() => get('/api/workloads'), []);
  const audit = useLoad(() => get('/api/audit?limit=20'), []);
  const captures = useLoad(() => get('/api/captures'), []);
  useLive((event, data) => {
    if (event === 'changed') {
      list.reload();
      if (data.what === 'audit') audit.reload();
      if (data.what === 'audit' || data.what === 'captures') captures.reload();
    }
  }, [list.reload, audit.reload, captures.reload]);
  const reload = () => {
    list.reload();
    audit.reload();
    captures.reload();
  };
  /** @type {CaptureView[]} */
  const caps = /** @type {any} */ (captures.data ?? []);
  /** @type {WorkloadView[]} */
  const rows = /** @type {any} */ (list.data ?? []);
  /** @type {AuditEntry[]} */
  const entries = /** @type {any} */ (audit.data ?? []);
  return html`<div class="page workloads">
    <h2>Workloads</h2>
    <${ErrorLine} error=${list.error} />
    <table class="list workloads-table">
      <thead><tr><th>Workload</th><th>Namespace</th><th>Mode</th><th>Learned</th><th>Anomalies</th><th>Quarantine</th><th>Enforcement</th><th>Privileged</th><th>Actions</th></tr></thead>
      <tbody>${rows.map((w) => html`<${Row} key=${`${w.key}:${w.mode}`} w=${w} reload=${reload} />`)}</tbody>
    </table>
    ${rows.length === 0 && list.data ? html`<p class="muted">No workloads seen yet.</p>` : null}
    ${caps.length ? html`<h3>Captures started here</h3>
    <table class="list captures-table">
      <thead><tr><th>Started</th><th>Workload</th><th>File</th><th>Ended</th></tr></thead>
      <tbody>${caps.map((c) => html`<tr data-file=${c.file}><td class="nowrap">${time(c.started)}</td><td>${c.workload}</td>
        <td><button type="button" class="link" onClick=${() => download(`/api/captures/${encodeURIComponent(c.file)}`, c.file)}>${c.file}</button></td>
        <td class="capture-end">${c.ended === null ? 'running' : c.ended.ok ? `${c.ended.packets} packets, ${c.ended.bytes} bytes (ended by ${c.ended.by})` : `failed: ${c.ended.error}`}</td></tr>`)}</tbody>
    </table>` : null}
    <h3>Recent actions (audit log: the console's and the CLI's)</h3>
    <table class="list audit-table">
      <thead><tr><th>Time</th><th>Who</th><th>From</th><th>Action</th><th>Workload</th><th>Result</th></tr></thead>
      <tbody>${entries.map((e) => html`<tr class=${e.ok ? '' : 'failed'}><td class="nowrap">${time(e.time)}</td><td>${e.actor}</td><td>${e.via === 'console' ? 'console' : 'CLI'}</td><td>${e.action} ${Object.entries(e.params).map(([k, v]) => `${k}=${v}`).join(' ')}</td><td>${e.workload}</td><td>${e.ok ? 'ok' : 'failed'}: ${e.result}</td></tr>`)}</tbody>
    </table>
  </div>`;
}
