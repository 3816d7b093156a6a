// Runs examples/tracing against an OTLP HTTP receiver started here, and
// checks the traces it exports: one per execution, linked across all layers.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = fileURLToPath(
  new URL('../examples/tracing/main.mjs', import.meta.url),
);
const API_CHAIN = ['protocol', 'worker', 'pool', 'supervisor', 'api'];
const SESSIONS = ['alice', 'bob', 'carol'];
const SINGLE_EXECUTIONS = 10;
const BATCHES = 3;
const STATUS_ERROR = 2;
const BUILD_TIMEOUT_MS = 600_000;
const EXAMPLE_TIMEOUT_MS = 120_000;

/** Whether the example's Python program can export spans of its own. */
const PYTHON_EXPORTS_SPANS =
  spawnSync(
    'python3',
    [
      '-c',
      'import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.proto.http.trace_exporter',
    ],
    { stdio: 'ignore' },
  ).status === 0;

/** One span as received, in the same shape for OTLP JSON and protobuf. */
interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string | undefined;
  name: string;
  service: unknown;
  attributes: Record<string, unknown>;
  statusCode: number;
}

interface ExportRequest {
  path: string;
  contentType: string;
  body: Buffer;
}

// --- OTLP JSON ------------------------------------------------------------

interface JsonKeyValue {
  key: string;
  value: Record<string, unknown>;
}

function jsonAttributes(
  list: JsonKeyValue[] | undefined,
): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const { key, value } of list ?? []) {
    const [kind, raw] = Object.entries(value)[0] ?? [];
    attributes[key] = kind === 'intValue' ? Number(raw) : raw;
  }
  return attributes;
}

/** Returns an id in lowercase hex. OTLP JSON sends hex, and some encoders send base64. */
function hexId(id: string | undefined): string | undefined {
  if (!id) return undefined;
  if (/^[0-9a-f]+$/i.test(id)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

function spansFromJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString('utf8')) as {
    resourceSpans?: {
      resource?: { attributes?: JsonKeyValue[] };
      scopeSpans?: {
        spans?: {
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          attributes?: JsonKeyValue[];
          status?: { code?: number };
        }[];
      }[];
    }[];
  };
  return (request.resourceSpans ?? []).flatMap((resourceSpans) => {
    const resource = jsonAttributes(resourceSpans.resource?.attributes);
    return (resourceSpans.scopeSpans ?? []).flatMap((scope) =>
      (scope.spans ?? []).map((span) => ({
        traceId: hexId(span.traceId)!,
        spanId: hexId(span.spanId)!,
        parentSpanId: hexId(span.parentSpanId),
        name: span.name,
        service: resource['service.name'],
        attributes: jsonAttributes(span.attributes),
        statusCode: span.status?.code ?? 0,
      })),
    );
  });
}

// --- OTLP protobuf (the Python exporter sends only this) -------------------

interface ProtoField {
  number: number;
  varint?: bigint;
  bytes?: Buffer;
}

/** Splits one protobuf message into its fields. Nested messages stay bytes. */
function protoFields(buffer: Buffer): ProtoField[] {
  const fields: ProtoField[] = [];
  let offset = 0;
  const readVarint = (): bigint => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buffer[offset++];
      if (byte === undefined) throw new Error('truncated protobuf varint');
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
      shift += 7n;
    }
  };
  while (offset < buffer.length) {
    const key = readVarint();
    const number = Number(key >> 3n);
    const wireType = Number(key & 7n);
    if (wireType === 0) fields.push({ number, varint: readVarint() });
    else if (wireType === 1 || wireType === 5) {
      const size = wireType === 1 ? 8 : 4;
      fields.push({ number, bytes: buffer.subarray(offset, offset + size) });
      offset += size;
    } else if (wireType === 2) {
      const length = Number(readVarint());
      fields.push({ number, bytes: buffer.subarray(offset, offset + length) });
      offset += length;
    } else {
      throw new Error(`unsupported protobuf wire type ${wireType}`);
    }
  }
  return fields;
}

function protoChildren(buffer: Buffer, number: number): Buffer[] {
  return protoFields(buffer)
    .filter((field) => field.number === number && field.bytes)
    .map((field) => field.bytes!);
}

/** Decodes an AnyValue: string (1), bool (2), int (3), double (4). */
function protoAnyValue(buffer: Buffer): unknown {
  const [field] = protoFields(buffer);
  if (!field) return undefined;
  if (field.number === 1) return field.bytes!.toString('utf8');
  if (field.number === 2) return field.varint !== 0n;
  if (field.number === 3) return Number(BigInt.asIntN(64, field.varint!));
  if (field.number === 4) return field.bytes!.readDoubleLE(0);
  return undefined;
}

function protoAttributes(keyValues: Buffer[]): Record<string, unknown> {
  const attributes: Record<string, unknown> = {};
  for (const keyValue of keyValues) {
    const [key] = protoChildren(keyValue, 1);
    const [value] = protoChildren(keyValue, 2);
    if (key) attributes[key.toString('utf8')] = value && protoAnyValue(value);
  }
  return attributes;
}

/** Decodes ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span. */
function spansFromProtobuf(body: Buffer): ReceivedSpan[] {
  return protoChildren(body, 1).flatMap((resourceSpans) => {
    const [resource] = protoChildren(resourceSpans, 1);
    const service = resource
      ? protoAttributes(protoChildren(resource, 1))['service.name']
      : undefined;
    return protoChildren(resourceSpans, 2).flatMap((scopeSpans) =>
      protoChildren(scopeSpans, 2).map((span) => {
        const hex = (number: number): string | undefined => {
          const [bytes] = protoChildren(span, number);
          return bytes && bytes.length > 0 ? bytes.toString('hex') : undefined;
        };
        const [status] = protoChildren(span, 15);
        const code = status
          ? protoFields(status).find((field) => field.number === 3)?.varint
          : undefined;
        return {
          traceId: hex(1)!,
          spanId: hex(2)!,
          parentSpanId: hex(4),
          name: protoChildren(span, 5)[0]?.toString('utf8') ?? '',
          service,
          attributes: protoAttributes(protoChildren(span, 9)),
          statusCode: Number(code ?? 0n),
        };
      }),
    );
  });
}

// --- Receiver, build and example run --------------------------------------

function startReceiver(requests: ExportRequest[]): Promise<Server> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body = Buffer.concat(chunks);
      if (request.headers['content-encoding'] === 'gzip')
        body = gunzipSync(body);
      const contentType = request.headers['content-type'] ?? '';
      requests.push({ path: request.url ?? '', contentType, body });
      if (contentType.startsWith('application/json')) {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      } else {
        // An empty ExportTraceServiceResponse: full success.
        response.writeHead(200, { 'content-type': 'application/x-protobuf' });
        response.end();
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function run(
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: ROOT,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${command} ${args.join(' ')} did not finish within ${options.timeoutMs} ms; stderr:\n${stderr}`,
        ),
      );
    }, options.timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function buildApiChainIfMissing(): Promise<void> {
  const missing = API_CHAIN.filter(
    (name) => !existsSync(`${ROOT}/packages/${name}/dist/index.js`),
  );
  if (missing.length === 0) return;
  const build = await run('pnpm', ['--filter', '@pyroost/api...', 'build'], {
    timeoutMs: BUILD_TIMEOUT_MS,
  });
  if (build.code !== 0) {
    throw new Error(
      `Building @pyroost/api and its dependencies failed (missing dist in ${missing.join(', ')}):\n` +
        build.stdout +
        build.stderr,
    );
  }
}

// --- The test --------------------------------------------------------------

const requests: ExportRequest[] = [];
let server: Server | undefined;
const spans: ReceivedSpan[] = [];
let summary: { executions: number; batches: number; failed: number };
let exampleStderr = '';

function childrenOf(parent: ReceivedSpan, name: string): ReceivedSpan[] {
  return spans.filter(
    (span) =>
      span.traceId === parent.traceId &&
      span.parentSpanId === parent.spanId &&
      span.name === name,
  );
}

function roots(name: string): ReceivedSpan[] {
  return spans.filter(
    (span) => span.name === name && span.parentSpanId === undefined,
  );
}

describe('tracing example exported over OTLP HTTP', () => {
  beforeAll(async () => {
    await buildApiChainIfMissing();
    server = await startReceiver(requests);
    const { port } = server.address() as AddressInfo;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_SERVICE_NAME: 'pyroost-example',
    };
    // Settings from the environment that would change what is exported.
    for (const name of [
      'OTEL_SDK_DISABLED',
      'OTEL_TRACES_SAMPLER',
      'OTEL_TRACES_SAMPLER_ARG',
      'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
      'OTEL_EXPORTER_OTLP_COMPRESSION',
      'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
      'OTEL_EXPORTER_OTLP_PROTOCOL',
    ]) {
      delete env[name];
    }
    const example = await run('node', [EXAMPLE], {
      env,
      timeoutMs: EXAMPLE_TIMEOUT_MS,
    });
    exampleStderr = example.stderr;
    expect(example.code, `example stderr:\n${example.stderr}`).toBe(0);
    const lastLine = example.stdout.trim().split('\n').at(-1) ?? '';
    summary = JSON.parse(lastLine) as typeof summary;

    for (const request of requests) {
      if (request.path !== '/v1/traces') continue;
      spans.push(
        ...(request.contentType.startsWith('application/json')
          ? spansFromJson(request.body)
          : spansFromProtobuf(request.body)),
      );
    }
  }, BUILD_TIMEOUT_MS + EXAMPLE_TIMEOUT_MS);

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
  });

  it('runs the workload it reports', () => {
    expect(summary).toEqual({
      sessions: SESSIONS,
      executions: SINGLE_EXECUTIONS,
      batches: BATCHES,
      failed: 1,
    });
  });

  it('posts Node spans as OTLP JSON to /v1/traces', () => {
    const traceRequests = requests.filter(
      (request) => request.path === '/v1/traces',
    );
    expect(
      traceRequests.some((request) =>
        request.contentType.startsWith('application/json'),
      ),
    ).toBe(true);
    expect(
      spans.filter((span) => span.service === 'pyroost-example').length,
    ).toBeGreaterThan(0);
  });

  it('exports one trace per execution', () => {
    const executions = roots('pyroost.execute word_stats');
    const batches = roots('pyroost.executeBatch word_stats');
    expect(executions).toHaveLength(SINGLE_EXECUTIONS);
    expect(batches).toHaveLength(BATCHES);
    const traceIds = new Set(
      [...executions, ...batches].map((span) => span.traceId),
    );
    expect(traceIds.size).toBe(SINGLE_EXECUTIONS + BATCHES);
    // Every exported span belongs to one of those traces.
    for (const span of spans) {
      expect(traceIds.has(span.traceId), span.name).toBe(true);
    }
  });

  it('links api, pool, worker and Python spans in each trace', () => {
    for (const root of roots('pyroost.execute word_stats')) {
      expect(childrenOf(root, 'pyroost.checkout')).toHaveLength(1);
      const requestSpans = childrenOf(root, 'pyroost.worker.request');
      expect(requestSpans).toHaveLength(1);
      const [request] = requestSpans;
      expect(childrenOf(request!, 'pyroost.python')).toHaveLength(1);
      expect(typeof request!.attributes['process.pid']).toBe('number');
      expect(request!.attributes['pyroost.worker.id']).toMatch(/^worker-\d+$/);
    }
    for (const root of roots('pyroost.executeBatch word_stats')) {
      // Three inputs on a pool of two workers go out as two frames.
      expect(childrenOf(root, 'pyroost.checkout')).toHaveLength(2);
      const requestSpans = childrenOf(root, 'pyroost.worker.request');
      expect(requestSpans).toHaveLength(2);
      for (const request of requestSpans) {
        expect(childrenOf(request, 'pyroost.python')).toHaveLength(1);
      }
    }
  });

  it('puts the session id on every Node span', () => {
    const nodeSpans = spans.filter(
      (span) => span.service === 'pyroost-example',
    );
    for (const root of nodeSpans.filter((span) => !span.parentSpanId)) {
      expect(SESSIONS).toContain(root.attributes['session.id']);
      const trace = nodeSpans.filter((span) => span.traceId === root.traceId);
      for (const span of trace) {
        expect(span.attributes['session.id'], span.name).toBe(
          root.attributes['session.id'],
        );
      }
    }
    const perSession = SESSIONS.map(
      (session) =>
        roots('pyroost.execute word_stats').filter(
          (span) => span.attributes['session.id'] === session,
        ).length,
    );
    expect(perSession).toEqual([3, 3, 4]);
  });

  it('marks the failed execution as an error', () => {
    const failed = roots('pyroost.execute word_stats').filter(
      (span) => span.statusCode === STATUS_ERROR,
    );
    expect(failed).toHaveLength(1);
    expect(failed[0]!.attributes['error.type']).toBe('program_error');
    expect(failed[0]!.attributes['session.id']).toBe('carol');
    const [request] = childrenOf(failed[0]!, 'pyroost.worker.request');
    expect(request!.statusCode).toBe(STATUS_ERROR);
    expect(request!.attributes['error.type']).toBe('program_error');
  });

  it('forwards Python stderr to the log with session, worker and pid', () => {
    const lines = exampleStderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // The bridge's own start-up lines come on stderr too; the program's
    // lines are those it prints while it runs.
    const forwarded = lines.filter(
      (line) =>
        line.stream === 'stderr' &&
        String(line.message).startsWith('word_stats:'),
    );
    // One per single execution and one per batch item.
    expect(forwarded).toHaveLength(SINGLE_EXECUTIONS + BATCHES * 3);
    for (const line of forwarded) {
      expect(SESSIONS).toContain(line.sessionId);
      expect(line.workerId).toMatch(/^worker-\d+$/);
      expect(typeof line.pid).toBe('number');
    }
  });

  it.skipIf(!PYTHON_EXPORTS_SPANS)(
    "parents the Python program's own span on the worker request",
    () => {
      const programSpans = spans.filter((span) => span.name === 'count words');
      // One per single execution (the failing one too) and one per batch item.
      expect(programSpans).toHaveLength(SINGLE_EXECUTIONS + BATCHES * 3);
      const requestsById = new Map(
        spans
          .filter((span) => span.name === 'pyroost.worker.request')
          .map((span) => [span.spanId, span]),
      );
      for (const span of programSpans) {
        expect(span.service).toBe('pyroost-example-python');
        const parent = requestsById.get(span.parentSpanId ?? '');
        expect(parent, 'parent pyroost.worker.request span').toBeDefined();
        expect(span.traceId).toBe(parent!.traceId);
        expect(span.attributes['session.id']).toBe(
          parent!.attributes['session.id'],
        );
      }
      expect(
        programSpans.filter((span) => span.statusCode === STATUS_ERROR),
      ).toHaveLength(1);
    },
  );
});
