// TypeScript types for the messages of proto/vigil/v1, generated from the
// .proto files so they cannot drift from them: src/probe/wire.ts (probe.proto,
// the probe ⇄ engine stream) and src/control/messages.ts (control.proto, the
// CLI ⇄ engine API). `npx tsx scripts/proto-types.ts` writes both;
// test/unit/proto-types.test.ts fails when a committed one is stale.
//
// The types are those of messages as protobufjs decodes them here (rpc/proto.ts):
// camelCase fields, 64-bit integers and enums as numbers (an enum's values
// stay in the .proto), bytes as Uint8Array,
// maps as records, a oneof's members optional with the member's name in the
// oneof's own (virtual) field.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface ProtoTypesTarget {
  /** The .proto file, below proto/. */
  proto: string;
  /** The file written, below the repository root. */
  out: string;
  /** What the file is, for its opening comment. */
  about: string;
  /** Prefixed to every message name (WireHello). */
  prefix: string;
  /**
   * Whether a singular message-typed field is optional: a probe may leave
   * one out (a connect without its remote end); the engine's control replies
   * always fill theirs.
   */
  optionalMessages: boolean;
  /** Also a table of the service's methods with their request and reply types. */
  service?: string;
}

export const TARGETS: readonly ProtoTypesTarget[] = [
  { proto: 'vigil/v1/probe.proto', out: 'src/probe/wire.ts', about: 'the probe ⇄ engine stream', prefix: 'Wire', optionalMessages: true },
  { proto: 'vigil/v1/control.proto', out: 'src/control/messages.ts', about: 'the CLI ⇄ engine control API', prefix: '', optionalMessages: false, service: 'ControlService' },
];

const NUMBER_TYPES = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32', 'int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function scalar(type: string): string {
  if (NUMBER_TYPES.has(type)) return 'number';
  if (type === 'bool') return 'boolean';
  if (type === 'string') return 'string';
  if (type === 'bytes') return 'Uint8Array';
  throw new Error(`unknown scalar type ${type}`);
}

/** A proto comment as a JSDoc block (or nothing), indented by `pad`. */
function doc(comment: string | null, pad: string): string {
  if (!comment) return '';
  const lines = comment.trim().split('\n').map((l) => l.trim());
  return lines.length === 1 ? `${pad}/** ${lines[0]} */\n` : `${pad}/**\n${lines.map((l) => `${pad} * ${l}`.trimEnd()).join('\n')}\n${pad} */\n`;
}

/** The generated TypeScript for one .proto file (read from `protoDir`). */
export function generate(t: ProtoTypesTarget, protoDir = join(root, 'proto')): string {
  const protoRoot = new protobuf.Root();
  protoRoot.resolvePath = (_origin, target) => join(protoDir, target);
  protoRoot.loadSync(t.proto, { keepCase: false, alternateCommentMode: true });
  protoRoot.resolveAll();
  const pkg = protoRoot.lookup('vigil.v1') as protobuf.Namespace;
  const file = join(protoDir, t.proto);
  const name = (type: protobuf.ReflectionObject): string => `${t.prefix}${type.name}`;
  const typeOf = (f: protobuf.Field): string => {
    if (f instanceof protobuf.MapField) return `Record<string, ${f.resolvedType ? name(f.resolvedType) : scalar(f.type)}>`;
    const base = f.resolvedType instanceof protobuf.Type ? name(f.resolvedType) : f.resolvedType instanceof protobuf.Enum ? 'number' : scalar(f.type);
    return f.repeated ? `${base}[]` : base;
  };

  let out = `// Generated from proto/${t.proto} (${t.about}) by scripts/proto-types.ts:\n`;
  out += '// do not edit. Change the .proto, then `npx tsx scripts/proto-types.ts`.\n';
  for (const nested of pkg.nestedArray) {
    if (nested.filename !== file) continue;
    if (!(nested instanceof protobuf.Type)) continue;
    out += `\n${doc(nested.comment, '')}`;
    if (nested.fieldsArray.length === 0) {
      out += `export type ${name(nested)} = Record<string, never>;\n`;
      continue;
    }
    out += `export interface ${name(nested)} {\n`;
    for (const f of nested.fieldsArray) {
      const optional = f.partOf !== null || (!f.repeated && !(f instanceof protobuf.MapField) && f.resolvedType instanceof protobuf.Type && t.optionalMessages);
      out += `${doc(f.comment, '  ')}  ${f.name}${optional ? '?' : ''}: ${typeOf(f)};\n`;
    }
    for (const o of nested.oneofsArray) {
      out += `  /** Which of ${o.fieldsArray.map((f) => f.name).join(', ')} is set. */\n`;
      out += `  ${o.name}?: ${o.fieldsArray.map((f) => `'${f.name}'`).join(' | ')};\n`;
    }
    out += '}\n';
  }
  if (t.service) {
    const service = pkg.lookupService(t.service);
    out += `\n/** ${t.service}'s methods (all unary): each one's request and reply message, by name and by type. */\n`;
    out += `export const ${t.service.replace(/Service$/, '').toUpperCase()}_METHODS = {\n`;
    for (const m of service.methodsArray) {
      if (m.requestStream || m.responseStream) throw new Error(`${t.service}.${m.name}: streaming methods are not described here`);
      out += `  ${m.name}: { request: '${m.requestType}', reply: '${m.responseType}' },\n`;
    }
    out += '} as const;\n\n';
    out += `export interface ${t.service}Types {\n`;
    for (const m of service.methodsArray) out += `  ${m.name}: { request: ${t.prefix}${m.requestType}; reply: ${t.prefix}${m.responseType} };\n`;
    out += '}\n';
    // The messages as protobufjs JSON: a client can build them with protobufjs/light, without parsing the .proto.
    const descriptor = protoRoot.toJSON({ keepComments: false });
    out += `\n/** ${t.service}'s messages as a protobufjs JSON descriptor (Root.fromJSON), for a client that does not parse the .proto. */\n`;
    out += `export const ${t.service.replace(/Service$/, '').toUpperCase()}_DESCRIPTOR = ${JSON.stringify(descriptor)};\n`;
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const t of TARGETS) {
    const text = generate(t);
    const path = join(root, t.out);
    let old = '';
    try {
      old = readFileSync(path, 'utf8');
    } catch {
      // first time
    }
    if (old !== text) writeFileSync(path, text);
    process.stdout.write(`${t.out}: ${old === text ? 'up to date' : 'written'}\n`);
  }
}
