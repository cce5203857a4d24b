// @ts-check
// The network activity map: workloads and their peers (other workloads,
// the node, external addresses) as a graph, edges coloured learned,
// anomalous, blocked or quarantined. Click an edge (or its row) for ports,
// protocol, counts and when it was last seen.
import { useEffect, useRef, useState } from 'preact/hooks';
import cytoscape from 'cytoscape';
import { get } from './http.js';
import { ErrorLine, html, time, useLive, useLoad } from './ui.js';

/** @typedef {import('../src/console/api.js').NetworkView} NetworkView */
/** @typedef {import('../src/console/api.js').NetworkEdge} NetworkEdge */

export const EDGE_COLORS = { learned: '#2e7d32', anomalous: '#ef6c00', blocked: '#c62828', quarantined: '#6a1b9a' };
const NODE_COLORS = { workload: '#1565c0', external: '#757575', host: '#00838f' };

/** @param {{ view: NetworkView, selected: string | null, onSelect: (id: string | null) => void }} p */
function Graph({ view, selected, onSelect }) {
  const el = useRef(/** @type {HTMLDivElement | null} */ (null));
  const cyRef = useRef(/** @type {cytoscape.Core | null} */ (null));
  useEffect(() => {
    const cy = cytoscape({
      container: el.current,
      elements: [
        ...view.nodes.map((n) => ({ data: { id: n.id, label: n.namespace ? `${n.label}\n(${n.namespace})` : n.label, color: NODE_COLORS[n.kind] } })),
        ...view.edges.map((e) => ({ data: { id: e.id, source: e.source, target: e.target, label: `${e.port}/${e.protocol}`, color: EDGE_COLORS[e.state], state: e.state } })),
      ],
      style: [
        { selector: 'node', style: { 'background-color': 'data(color)', label: 'data(label)', 'font-size': 11, 'text-wrap': 'wrap', 'text-valign': 'bottom', 'text-margin-y': 4, color: '#222', width: 22, height: 22 } },
        { selector: 'edge', style: { 'line-color': 'data(color)', 'target-arrow-color': 'data(color)', 'target-arrow-shape': 'triangle', 'curve-style': 'bezier', width: 3, label: 'data(label)', 'font-size': 9, color: '#333', 'text-background-color': '#fff', 'text-background-opacity': 0.8, 'text-background-padding': '1' } },
        { selector: 'edge:selected', style: { width: 6, 'overlay-opacity': 0.15 } },
      ],
      layout: { name: view.nodes.length > 2 ? 'cose' : 'grid', animate: false, padding: 30 },
      wheelSensitivity: 0.3,
    });
    cy.on('tap', 'edge', (evt) => onSelect(evt.target.id()));
    cy.on('tap', (evt) => {
      if (evt.target === cy) onSelect(null);
    });
    cyRef.current = cy;
    return () => cy.destroy();
  }, [view]);
  useEffect(() => {
    const cy = cyRef.current;
    if (!cy) return;
    cy.edges().unselect();
    if (selected) cy.getElementById(selected).select();
  }, [selected, view]);
  return html`<div class="graph" ref=${el} role="img" aria-label="network activity map"></div>`;
}

/** @param {{ e: NetworkEdge, label: (id: string) => string }} p */
function EdgeDetail({ e, label }) {
  return html`<div class="edge-detail" data-edge=${e.id}>
    <h4><span class=${`state state-${e.state}`}>${e.state}</span> ${label(e.source)} → ${label(e.target)}</h4>
    <dl class="kv">
      <dt>port</dt><dd>${e.port}</dd>
      <dt>protocol</dt><dd>${e.protocol}</dd>
      <dt>direction</dt><dd>${e.direction === 'out' ? 'the workload connected out' : 'the workload accepted it'}</dd>
      <dt>connections</dt><dd>${e.count}</dd>
      <dt>blocked</dt><dd>${e.blocked}</dd>
      <dt>anomalies</dt><dd>${e.anomalies}</dd>
      <dt>first seen</dt><dd>${time(e.firstSeen)}</dd>
      <dt>last seen</dt><dd>${time(e.lastSeen)}</dd>
    </dl>
  </div>`;
}

export function NetworkPage() {
  const [namespace, setNamespace] = useState('');
  const [selected, setSelected] = useState(/** @type {string | null} */ (null));
  const net = useLoad(() => get(`/api/network${namespace ? `?namespace=${encodeURIComponent(namespace)}` : ''}`), [namespace]);
  const [stale, setStale] = useState(false);
  useLive((event) => {
    if (event === 'alert' || event === 'changed') setStale(true);
  }, []);
  /** @type {NetworkView | undefined} */
  const v = /** @type {any} */ (net.data);
  const labels = new Map((v?.nodes ?? []).map((n) => [n.id, n.label]));
  const label = (/** @type {string} */ id) => labels.get(id) ?? id;
  const edge = v?.edges.find((e) => e.id === selected);
  return html`<div class="page network">
    <h2>Network activity</h2>
    <div class="toolbar">
      <label>Namespace <input name="namespace" value=${namespace} onChange=${(/** @type {Event} */ e) => setNamespace(/** @type {HTMLInputElement} */ (e.currentTarget).value)} placeholder="all" /></label>
      <button type="button" class="refresh" onClick=${() => { setStale(false); net.reload(); }}>Refresh${stale ? ' (new activity)' : ''}</button>
      <span class="legend">${Object.entries(EDGE_COLORS).map(([k, c]) => html`<span class="swatch"><i class=${`sw-${k}`} title=${c}></i>${k}</span>`)}</span>
    </div>
    <${ErrorLine} error=${net.error} />
    ${v ? html`<div class="net-layout">
      <${Graph} view=${v} selected=${selected} onSelect=${setSelected} />
      <aside>${edge ? html`<${EdgeDetail} e=${edge} label=${label} />` : html`<p class="muted">Click an edge for its ports, protocol, counts and when it was last seen.</p>`}</aside>
    </div>
    <p class="muted">${v.edges.length} edges, ${v.nodes.length} nodes (the console keeps ${v.limit} edges; ${v.evicted} least recently seen dropped). DNS names are not observed: peers are addresses.</p>
    <table class="list edges-table">
      <thead><tr><th>From</th><th>To</th><th>Port</th><th>State</th><th>Connections</th><th>Last seen</th></tr></thead>
      <tbody>${v.edges.map((e) => html`<tr key=${e.id} class=${selected === e.id ? 'row open' : 'row'} data-edge=${e.id} onClick=${() => setSelected(e.id)}>
        <td>${label(e.source)}</td><td>${label(e.target)}</td><td>${e.port}/${e.protocol}</td><td><span class=${`state state-${e.state}`}>${e.state}</span></td><td>${e.count}</td><td>${time(e.lastSeen)}</td></tr>`)}</tbody>
    </table>` : null}
  </div>`;
}
