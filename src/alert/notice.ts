// Alerts Vigil raises about its own alert delivery (rate-limit summaries,
// alerts dropped at a queue's disk cap): no event, no process, no workload.
import { randomUUID } from 'node:crypto';
import { NO_ACTION, type Alert, type Priority } from '../model/alert.js';

export function noticeAlert(node: string, rule: string, priority: Priority, message: string, fields: Alert['fields'] = {}): Alert {
  return {
    id: randomUUID(),
    time: new Date().toISOString(),
    source: 'engine',
    rule,
    priority,
    message,
    output: message,
    tags: ['vigil'],
    node,
    workload: { name: '', key: '', kind: '', namespace: '', pod: '', container: '', labels: {}, cgroupPath: '', mode: '', containerId: '', containerInfo: null },
    process: { pid: 0, vpid: 0, ppid: 0, exe: '', cmdline: '', comm: '', uid: 0, gid: 0, loginuid: null, parents: [] },
    event: {},
    action: NO_ACTION,
    fields,
    count: 1,
  };
}
