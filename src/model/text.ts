// Text an attacker controls (executable names, command lines, paths,
// cgroup and pod names) shown to people: escaped so it can neither forge
// another field nor reorder, hide or break the line it is shown in.
// Escaped are control characters (C0, DEL, C1), the line and paragraph
// separators, bidirectional overrides, embeddings, isolates and marks
// (U+202E turns "gpj.exe" into "exe.jpg"), and invisible characters that
// make two different strings look alike; lone surrogates too.

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// eslint-disable-next-line no-control-regex
const UNSAFE_TEST = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]/;

function hex(c: string): string {
  const n = c.charCodeAt(0);
  return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
}

/** Whether `s` holds a character that escape() would escape. */
export function hasUnsafe(s: string): boolean {
  return UNSAFE_TEST.test(s);
}

/** Every unsafe character shown as \xNN or \uNNNN: visible, never interpreted. */
export function escapeUnsafe(s: string): string {
  return hasUnsafe(s) ? s.replace(UNSAFE, hex) : s;
}

/** `"…"` with `\` and `"` escaped and every unsafe character shown escaped: one field, whatever it holds. */
export function quote(s: string): string {
  return `"${escapeUnsafe(s.replace(/[\\"]/g, (c) => `\\${c}`))}"`;
}

/** Characters a bare (unquoted) value may hold: nothing that separates, quotes or assigns. */
const BARE = /^[A-Za-z0-9_./:@+,~%-]+$/;

/**
 * A value as it reads best when nothing is odd about it (`/usr/bin/id`),
 * quoted when it could be taken for more than one value: empty, or holding
 * spaces, `=`, quotes, `|`, brackets or an unsafe character.
 */
export function shown(s: string): string {
  return BARE.test(s) ? s : quote(s);
}

/**
 * JSON whose strings hold no raw unsafe character: JSON.stringify leaves
 * DEL, C1, U+2028/2029 and the bidirectional controls raw, which a person
 * reading the line (or a log viewer) would see reordered or broken. The
 * \uNNNN escapes decode to the same string.
 */
export function safeJson(value: unknown): string {
  const s = JSON.stringify(value);
  return hasUnsafe(s) ? s.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s;
}
