// @ts-check
// Shared pieces of the console's pages. Everything is rendered with preact
// through htm: values become text nodes, so a crafted executable name or
// argument shows as the characters it is and never as markup.
import { h } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import htm from 'htm';

export const html = htm.bind(h);

export const PRIORITIES = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'];

/** @param {string} iso */
export function ago(iso) {
  const t = Date.parse(iso);
  if (!iso || Number.isNaN(t)) return '—';
  return duration((Date.now() - t) / 1000) + ' ago';
}

/** @param {number} s */
export function duration(s) {
  if (s < 0) s = 0;
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/** @param {string} iso */
export function time(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? '—' : new Date(t).toLocaleString(undefined, { hour12: false });
}

/** @param {{ priority: string }} p */
export function Priority({ priority }) {
  return html`<span class=${`prio prio-${priority}`}>${priority}</span>`;
}

/** @param {{ level: string, score: number }} p */
export function Score({ level, score }) {
  return html`<span class=${`score risk-${level}`} title=${level}>${score}</span>`;
}

/**
 * A value loaded from the API, reloaded when `deps` change or `reload()` is called.
 * @template T
 * @param {() => Promise<T>} load
 * @param {unknown[]} deps
 * @returns {{ data: T | undefined, error: string, reload: () => void }}
 */
export function useLoad(load, deps) {
  const [state, setState] = useState(/** @type {{ data: T | undefined, error: string }} */ ({ data: undefined, error: '' }));
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (data) => live && setState({ data, error: '' }),
      (err) => live && setState((s) => ({ data: s.data, error: String(err.message ?? err) })),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  return { ...state, reload: () => setN((x) => x + 1) };
}

/** @type {Set<(t: {ok: boolean, text: string, id: number}) => void>} */
const toastListeners = new Set();
let toastId = 0;

/** Tells the person what an action did (or why not): every action is acknowledged. @param {boolean} ok @param {string} text */
export function toast(ok, text) {
  const t = { ok, text, id: ++toastId };
  for (const fn of toastListeners) fn(t);
}

export function Toasts() {
  const [list, setList] = useState(/** @type {{ok: boolean, text: string, id: number}[]} */ ([]));
  useEffect(() => {
    /** @param {{ok: boolean, text: string, id: number}} t */
    const add = (t) => {
      setList((l) => [...l.slice(-4), t]);
      setTimeout(() => setList((l) => l.filter((x) => x.id !== t.id)), 8000);
    };
    toastListeners.add(add);
    return () => toastListeners.delete(add);
  }, []);
  return html`<div class="toasts" role="status" aria-live="polite">
    ${list.map((t) => html`<div key=${t.id} class=${`toast ${t.ok ? 'ok' : 'fail'}`}>${t.text}</div>`)}
  </div>`;
}

/** @param {{ error: string }} p */
export function ErrorLine({ error }) {
  return error ? html`<p class="error" role="alert">${error}</p>` : null;
}

/** @param {{ entries: [string, unknown][] }} p */
export function KeyValues({ entries }) {
  return html`<dl class="kv">${entries.map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}</dl>`;
}

/**
 * Subscribes to the page-wide live stream.
 * @type {Set<(event: string, data: any) => void>}
 */
export const live = new Set();

/** @param {(event: string, data: any) => void} fn @param {unknown[]} deps */
export function useLive(fn, deps) {
  useEffect(() => {
    live.add(fn);
    return () => {
      live.delete(fn);
    };
  }, deps);
}
