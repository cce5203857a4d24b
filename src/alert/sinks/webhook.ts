// Webhook request signing. Each POST carries:
//   X-Vigil-Timestamp: <unix seconds when this attempt was sent>
//   X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, body)>
//       the exact body, GitHub's scheme: proves who sent it and that it is intact.
//   X-Vigil-Timestamp-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>
//       binds the timestamp to the body, so a receiver can refuse a replayed
//       request older than a few minutes (a timestamp header alone could be
//       rewritten by whoever replays).
// Delivery is at least once: receivers drop repeats by the alert's `id`
// (`uuid` in the Falco shape), which stays the same across retries.
import { createHmac } from 'node:crypto';

export function hmacHex(secret: string, data: string): string {
  return createHmac('sha256', secret).update(data, 'utf8').digest('hex');
}

export function webhookHeaders(secret: string | null, extra: Record<string, string>, now = Date.now): (body: string) => Record<string, string> {
  return (body) => {
    const ts = String(Math.floor(now() / 1000));
    const h: Record<string, string> = { ...extra, 'x-vigil-timestamp': ts };
    if (secret) {
      h['x-vigil-signature'] = `sha256=${hmacHex(secret, body)}`;
      h['x-vigil-timestamp-signature'] = `sha256=${hmacHex(secret, `${ts}.${body}`)}`;
    }
    return h;
  };
}
