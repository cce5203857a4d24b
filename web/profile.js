// @ts-check
// One workload's profile: executables (arguments, parents, users), files
// read and written, network peers out and in; open anomalies, each
// acceptable into the profile after its diff has been shown; export as
// WorkloadProfile YAML or NetworkPolicy.
import { useState } from 'preact/hooks';
import { download, get, getText, workloadPath } from './http.js';
import { ErrorLine, html, time, toast, useLive, useLoad } from './ui.js';
import { act } from './workloads.js';

/** @typedef {import('../src/console/api.js').ProfileView} ProfileView */
/** @typedef {import('../src/console/api.js').AcceptPreview} AcceptPreview */
/** @typedef {import('../src/console/api.js').OpenAnomaly} OpenAnomaly */

/** @param {{ lines: string[] }} p */
function Diff({ lines }) {
  return html`<pre class="diff">${lines.map((l) => html`<span class=${l.startsWith('+') ? 'add' : l.startsWith('-') ? 'del' : 'chg'}>${`${l}\n`}</span>`)}</pre>`;
}

/** @param {{ a: OpenAnomaly, path: string, reload: () => void }} p */
function Anomaly({ a, path, reload }) {
  const [preview, setPreview] = useState(/** @type {AcceptPreview | null} */ (null));
  const [busy, setBusy] = useState(false);
  const show = async () => {
    try {
      setPreview(await get(`${path}/anomalies/${a.id}/preview`));
    } catch (err) {
      toast(false, String(/** @type {Error} */ (err).message));
    }
  };
  const apply = async () => {
    if (!preview) return;
    setBusy(true);
    await act(`${path}/anomalies/${a.id}/accept`, { baseVersion: preview.baseVersion }, reload);
    setBusy(false);
    setPreview(null);
  };
  return html`<li class="anomaly" data-anomaly=${a.id}>
    <div><b>${a.kind}</b> <code>${a.what}</code> <span class="muted">×${a.count}, last ${time(a.lastSeen)}</span></div>
    <div class="muted small">${a.message}</div>
    ${preview
      ? html`<div class="preview"><p>Accepting changes the profile like this:</p><${Diff} lines=${preview.diff} />
          <button type="button" class="apply-accept" disabled=${busy} onClick=${apply}>Apply to profile</button>
          <button type="button" onClick=${() => setPreview(null)}>Cancel</button></div>`
      : html`<button type="button" class="accept" onClick=${show}>Accept into profile…</button>`}
  </li>`;
}

/** @param {{ title: string, items: string[] }} p */
function List({ title, items }) {
  return html`<section class="plist"><h4>${title} <span class="muted">(${items.length})</span></h4>
    ${items.length ? html`<ul>${items.map((i) => html`<li><code>${i}</code></li>`)}</ul>` : html`<p class="muted">none</p>`}</section>`;
}

/** @param {{ wkey: string }} p */
export function ProfilePage({ wkey }) {
  const path = workloadPath(wkey);
  const view = useLoad(() => get(`${path}/profile`), [wkey]);
  const [exported, setExported] = useState(/** @type {{ format: string, text: string } | null} */ (null));
  useLive((event, data) => {
    if (event === 'changed' || (event === 'alert' && data.source === 'profile')) view.reload();
  }, [view.reload]);
  /** @type {ProfileView | undefined} */
  const v = /** @type {any} */ (view.data);
  if (!v) return html`<div class="page"><${ErrorLine} error=${view.error} /><p class="muted">Loading…</p></div>`;
  const w = v.workload;
  const s = v.document?.spec;
  /** @param {string} format */
  const show = async (format) => {
    try {
      setExported({ format, text: await getText(`${path}/export?format=${format}`) });
    } catch (err) {
      toast(false, String(/** @type {Error} */ (err).message));
    }
  };
  const fileName = (/** @type {string} */ format) => `${w.name.replace(/[^A-Za-z0-9._-]+/g, '_')}.${format === 'networkpolicy' ? 'networkpolicy' : 'workloadprofile'}.yaml`;
  return html`<div class="page profile">
    <h2>Profile: ${w.name}</h2>
    <p class="muted">${w.namespace ? `namespace ${w.namespace} · ` : ''}mode <b>${w.mode}</b> · learning since ${time(w.learningSince)} · last new behaviour ${time(w.lastNewBehaviour)}</p>
    <${ErrorLine} error=${view.error} />
    <section class="anomalies">
      <h3>Open anomalies (${v.anomalies.length})</h3>
      ${v.anomalies.length ? html`<ul>${v.anomalies.map((a) => html`<${Anomaly} key=${a.id} a=${a} path=${path} reload=${view.reload} />`)}</ul>` : html`<p class="muted">none</p>`}
    </section>
    ${s ? html`
      <h3>Executables (${s.processes.length})</h3>
      <table class="list exes">
        <thead><tr><th>Executable</th><th>Arguments</th><th>Parents</th><th>Users</th></tr></thead>
        <tbody>${s.processes.map((p) => html`<tr><td><code>${p.exe}</code></td><td>${(p.args ?? []).map((x) => html`<div><code>${x}</code></div>`)}${p.args ? null : html`<span class="muted">not compared</span>`}</td>
          <td>${(p.parents ?? []).map((x) => html`<div><code>${x}</code></div>`)}</td><td>${(p.users ?? []).join(', ')}</td></tr>`)}</tbody>
      </table>
      <div class="cols">
        <${List} title="Files read" items=${s.files.read} />
        <${List} title="Files written" items=${s.files.write} />
      </div>
      <div class="cols">
        <${List} title="Network out (egress)" items=${s.network.egress.map((r) => `${r.protocol} ${r.to} port ${r.port || 'any'}`)} />
        <${List} title="Listening" items=${s.network.listen.map((r) => `${r.protocol} ${r.port}`)} />
        <${List} title="Network in (ingress)" items=${s.network.ingress.map((r) => `${r.from} → port ${r.port || 'any'}`)} />
      </div>
      <h3>Export</h3>
      <p>
        <button type="button" class="export-yaml" onClick=${() => show('yaml')}>WorkloadProfile YAML</button>
        <button type="button" class="export-np" onClick=${() => show('networkpolicy')}>NetworkPolicy</button>
      </p>
      ${exported ? html`<div class="exported"><pre class="yaml">${exported.text}</pre>
        <button type="button" onClick=${() => download(`${path}/export?format=${exported.format}`, fileName(exported.format))}>Download</button></div>` : null}
    ` : html`<p class="muted">No profile yet: the workload has not done anything profiled.</p>`}
  </div>`;
}
