// Webhook URLs, Slack URLs (the token is in the path), HMAC keys and extra
// headers are secrets. They are read here, from the config or from files
// (mounted Kubernetes Secrets), and never leave this process other than in
// the request itself: sinks are named by id, type and host only, and any
// text that might carry a secret is scrubbed before it is logged.
import { readFileSync } from 'node:fs';

export class SinkConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SinkConfigError';
  }
}

/** The content of a secret file, without its trailing newline; errors name the file, never its content. */
export function readSecretFile(path: string, what: string, sink: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new SinkConfigError(`sink ${sink}: cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const value = text.replace(/\r?\n$/, '');
  if (!value) throw new SinkConfigError(`sink ${sink}: ${what} ${path} is empty`);
  return value;
}

/** Parses a secret URL; the error does not repeat it. */
export function parseSecretUrl(text: string, where: string, sink: string): URL {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new SinkConfigError(`sink ${sink}: ${where} does not hold a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SinkConfigError(`sink ${sink}: ${where} must hold an http:// or https:// URL`);
  return url;
}

/**
 * Replaces every secret (and a URL's path, query and credentials, which
 * carry tokens) in `text`. One redactor serves all sinks, so an endpoint
 * that echoes any sink's secret back cannot get it into a log line.
 */
export class Redactor {
  private needles: string[] = [];

  add(secrets: readonly (string | URL | null | undefined)[]): void {
    const out = new Set<string>(this.needles);
    for (const s of secrets) {
      if (!s) continue;
      if (s instanceof URL) {
        out.add(s.href);
        if (s.pathname.length > 1) out.add(s.pathname);
        if (s.search) out.add(s.search);
        if (s.username) out.add(s.username).add(decodeURIComponent(s.username));
        if (s.password) out.add(s.password).add(decodeURIComponent(s.password));
        for (const part of s.pathname.split('/')) if (part.length >= 8) out.add(part);
        for (const [, v] of s.searchParams) if (v.length >= 8) out.add(v);
      } else {
        out.add(s);
        for (const word of s.split(/\s+/)) if (word.length >= 8) out.add(word);
      }
    }
    // Longest first, so a URL is replaced whole before its parts.
    this.needles = [...out].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  }

  scrub(text: string): string {
    let out = text;
    for (const n of this.needles) out = out.split(n).join('[redacted]');
    return out;
  }
}
