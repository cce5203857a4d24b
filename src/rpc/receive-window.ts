// The HTTP/2 receive window of a grpc-js server: how many bytes a client
// may send before it must wait for the server's WINDOW_UPDATE. grpc-js
// (1.14) leaves its servers at Node's default of 64 KiB and reads no option
// for it (grpc/grpc-node#3058 would make them honour
// 'grpc-node.flow_control_window', which we pass as well). A probe's
// batches run to tens of KiB, so at 64 KiB the engine sent a window update,
// and the probe waited for it, every message or two: a write, a read and a
// wakeup on each side per message. Node's own way to raise it: new
// sessions' SETTINGS (server.updateSettings) for each stream, and
// session.setLocalWindowSize for the connection.
import type { Http2SecureServer, Http2Server, ServerHttp2Session } from 'node:http2';
import type { Server } from '@grpc/grpc-js';

/** What a probe may have in flight to the engine: 16 s of a steady 1,000-event/s node, a few ms at full speed. */
export const PROBE_RECEIVE_WINDOW = 1 << 20;

/**
 * Raises the receive window of the HTTP/2 servers `server` is listening
 * with (call after binding) to `bytes`, for every session from now on.
 * False when this grpc-js keeps its servers where we cannot reach them:
 * the window stays at 64 KiB, which costs speed, not correctness.
 */
export function raiseReceiveWindow(server: Server, bytes: number): boolean {
  // Not public API: the servers grpc-js created in bindAsync.
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) return false;
  for (const s of servers.keys() as IterableIterator<Http2Server | Http2SecureServer>) {
    if (typeof s?.updateSettings !== 'function') return false;
    s.updateSettings({ initialWindowSize: bytes });
    s.on('session', (session: ServerHttp2Session) => session.setLocalWindowSize(bytes));
  }
  return true;
}
