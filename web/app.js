// @ts-check
// The console's shell: sign-in (a token pasted once per tab, or a TLS
// client certificate), navigation by URL fragment, and the live stream
// every page listens to.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { AlertsPage } from './alerts.js';
import { get, setToken, stream, takeTokenFromFragment, token, whenUnauthorized } from './http.js';
import { NetworkPage } from './network.js';
import { ProfilePage } from './profile.js';
import { ReportPage, RiskPage } from './risk.js';
import { html, live, Toasts } from './ui.js';
import { WorkloadsPage } from './workloads.js';

/** @typedef {import('../src/console/api.js').SessionInfo} SessionInfo */

function useRoute() {
  const [hash, setHash] = useState(location.hash || '#/alerts');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/alerts');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

/** @param {{ onDone: () => void, failed: boolean }} p */
function SignIn({ onDone, failed }) {
  const [value, setValue] = useState('');
  return html`<div class="signin">
    <h1>Vigil</h1>
    <form onSubmit=${(/** @type {Event} */ e) => {
      e.preventDefault();
      setToken(value.trim());
      onDone();
    }}>
      <label>Console token <input type="password" name="token" autocomplete="off" value=${value} onInput=${(/** @type {Event} */ e) => setValue(/** @type {HTMLInputElement} */ (e.currentTarget).value)} /></label>
      <button type="submit">Sign in</button>
      ${failed ? html`<p class="error" role="alert">That token was not accepted.</p>` : null}
      <p class="muted small">The token is the content of the file <code>console.tokenFile</code> names. It is kept in this tab only.</p>
    </form>
  </div>`;
}

function App() {
  const [session, setSession] = useState(/** @type {SessionInfo | null} */ (null));
  const [attempt, setAttempt] = useState(0);
  const [liveState, setLive] = useState(false);
  const route = useRoute();
  useEffect(() => {
    get('/api/session').then((s) => setSession(/** @type {SessionInfo} */ (s)), () => setSession(null));
  }, [attempt]);
  useEffect(() => whenUnauthorized(() => setAttempt((n) => n + 1)), []);
  const authed = session?.authenticated === true;
  useEffect(() => {
    if (!authed) return undefined;
    return stream((event, data) => {
      for (const fn of live) fn(event, data);
    }, setLive);
  }, [authed]);
  if (!session) return html`<p class="loading">Connecting…</p>`;
  if (!authed) return html`<${SignIn} failed=${attempt > 0 && token() !== ''} onDone=${() => setAttempt((n) => n + 1)} />`;
  const [path, query = ''] = route.slice(1).split('?');
  const params = new URLSearchParams(query);
  /** @type {unknown} */
  let page;
  if (path?.startsWith('/profile/')) page = html`<${ProfilePage} wkey=${decodeURIComponent(path.slice('/profile/'.length))} />`;
  else if (path === '/workloads') page = html`<${WorkloadsPage} />`;
  else if (path === '/network') page = html`<${NetworkPage} />`;
  else if (path === '/risk') page = html`<${RiskPage} />`;
  else if (path === '/report') return html`<${ReportPage} namespace=${params.get('namespace') ?? ''} />`;
  else page = html`<${AlertsPage} />`;
  const tab = (/** @type {string} */ href, /** @type {string} */ label) =>
    html`<a href=${href} class=${path === href.slice(1) || (href === '#/workloads' && path?.startsWith('/profile/')) ? 'on' : ''}>${label}</a>`;
  return html`<div class="app">
    <header>
      <span class="brand">Vigil</span>
      <nav>${tab('#/alerts', 'Alerts')}${tab('#/workloads', 'Workloads')}${tab('#/network', 'Network')}${tab('#/risk', 'Risk')}</nav>
      <span class="node">node ${session.node}</span>
      <span class=${`live ${liveState ? 'on' : 'off'}`} title=${liveState ? 'live updates connected' : 'live updates reconnecting'}>${liveState ? 'live' : 'offline'}</span>
      ${session.auth.includes('token') ? html`<button type="button" class="signout" onClick=${() => { setToken(''); setAttempt(0); setSession({ ...session, authenticated: false }); }}>Sign out</button>` : null}
    </header>
    <main>${page}</main>
    <${Toasts} />
  </div>`;
}

takeTokenFromFragment();
const root = document.getElementById('root');
if (root) {
  root.textContent = '';
  render(html`<${App} />`, root);
}
