import { PyroostError, type PyroostErrorJson } from './pyroostError.js';

/** Version of the wire protocol that this package speaks. */
export const PROTOCOL_VERSION = 1;

/** Commands a worker understands. */
export type Command =
  'ping' | 'execute' | 'execute_batch' | 'describe' | 'stats' | 'shutdown';

/** W3C trace context carried with a request. */
export interface TraceCarrier {
  traceparent?: string;
  tracestate?: string;
}

/** Node → Python. */
export interface RequestMessage {
  type: 'request';
  id: number;
  command: Command;
  program?: string;
  inputs?: Record<string, unknown>;
  inputs_list?: Record<string, unknown>[];
  session_id?: string | null;
  trace?: TraceCarrier;
}

/** Python → Node, once, when the programs are imported. */
export interface ReadyMessage {
  type: 'ready';
  protocol: number;
  pid: number;
  python: string;
  programs: string[];
}

/** Python → Node, instead of `ready`, when the programs cannot be imported. */
export interface StartupErrorMessage {
  type: 'startup_error';
  error: PyroostErrorJson;
}

/**
 * Wall-clock nanoseconds since the Unix epoch around the program call. The
 * values exceed 2^53, so they may arrive as decimal strings (the JSON policy
 * for large integers) or as numbers rounded to a few hundred nanoseconds.
 */
export interface Timing {
  start_ns: number | string;
  end_ns: number | string;
}

/**
 * Python → Node, one per request. `closing: true` means that the worker exits
 * right after this response (shutdown, SIGTERM, or a program closed the
 * request channel), so it must not get another request.
 */
export type ResponseMessage =
  | {
      type: 'response';
      id: number;
      ok: true;
      result: unknown;
      timing?: Timing;
      closing?: boolean;
    }
  | {
      type: 'response';
      id: number;
      ok: false;
      error: PyroostErrorJson;
      timing?: Timing;
      closing?: boolean;
    };

/** Every message a worker can send. */
export type WorkerMessage =
  ReadyMessage | StartupErrorMessage | ResponseMessage;

/** One item of an `execute_batch` result. */
export type BatchItem =
  { ok: true; result: unknown } | { ok: false; error: PyroostErrorJson };

function invalid(message: string, value: unknown): PyroostError {
  let preview: string;
  try {
    preview = JSON.stringify(value).slice(0, 120);
  } catch {
    preview = String(value);
  }
  return new PyroostError({
    type: 'protocol_error',
    message: `${message}: ${preview}`,
  });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTiming(value: unknown): value is Timing {
  return (
    isRecord(value) &&
    isNanoseconds(value.start_ns) &&
    isNanoseconds(value.end_ns)
  );
}

function isNanoseconds(value: unknown): boolean {
  return (
    typeof value === 'number' ||
    (typeof value === 'string' && /^\d{1,20}$/.test(value))
  );
}

/**
 * Checks a decoded frame from a worker and returns it typed. Throws
 * `protocol_error` naming the first field that is wrong.
 */
export function parseWorkerMessage(
  value: Record<string, unknown>,
): WorkerMessage {
  switch (value.type) {
    case 'response': {
      if (!Number.isSafeInteger(value.id))
        throw invalid('Response without an integer id', value);
      if (value.timing !== undefined && !isTiming(value.timing)) {
        throw invalid('Response with malformed timing', value);
      }
      if (value.ok === true) {
        if (!('result' in value))
          throw invalid('Successful response without a result', value);
        return value as unknown as ResponseMessage;
      }
      if (value.ok === false) {
        if (!isRecord(value.error) || typeof value.error.type !== 'string') {
          throw invalid('Failed response without an error object', value);
        }
        return value as unknown as ResponseMessage;
      }
      throw invalid('Response whose ok field is not a boolean', value);
    }
    case 'ready': {
      if (value.protocol !== PROTOCOL_VERSION) {
        throw invalid(
          `Worker speaks protocol ${String(value.protocol)}, expected ${PROTOCOL_VERSION}; ` +
            'the Python bridge and @pyroost/worker versions do not match',
          value,
        );
      }
      if (!Number.isSafeInteger(value.pid))
        throw invalid('Ready message without a pid', value);
      if (typeof value.python !== 'string')
        throw invalid('Ready message without a Python version string', value);
      if (
        !Array.isArray(value.programs) ||
        !value.programs.every((p) => typeof p === 'string')
      ) {
        throw invalid('Ready message without a list of program names', value);
      }
      return value as unknown as ReadyMessage;
    }
    case 'startup_error': {
      if (!isRecord(value.error) || typeof value.error.type !== 'string') {
        throw invalid('Startup error without an error object', value);
      }
      return value as unknown as StartupErrorMessage;
    }
    default:
      throw invalid('Message of unknown type', value);
  }
}

/**
 * Checks that a batch result is an array of `expected` items, each with a
 * boolean `ok`. Throws `protocol_error` otherwise.
 */
export function parseBatchItems(value: unknown, expected: number): BatchItem[] {
  if (!Array.isArray(value) || value.length !== expected) {
    throw invalid(`Batch result is not an array of ${expected} items`, value);
  }
  for (const item of value) {
    if (!isRecord(item) || (item.ok !== true && item.ok !== false)) {
      throw invalid('Batch item without an ok field', item);
    }
  }
  return value as BatchItem[];
}
