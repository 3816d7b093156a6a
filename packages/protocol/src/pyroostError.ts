/** Broad class of a failure, for callers that branch on what to do next. */
export type ErrorCategory =
  'timeout' | 'resource' | 'communication' | 'system' | 'program';

/** Stable snake_case code of a failure. New codes may be added; none is renamed. */
export type ErrorType =
  | 'checkout_timeout'
  | 'execution_timeout'
  | 'start_timeout'
  | 'aborted'
  | 'queue_full'
  | 'pool_closed'
  | 'worker_busy'
  | 'memory_limit'
  | 'protocol_error'
  | 'frame_too_large'
  | 'worker_crashed'
  | 'spawn_failed'
  | 'pool_unhealthy'
  | 'invalid_input'
  | 'invalid_output'
  | 'program_not_found'
  | 'program_error';

/** Recovery facts for one error type. */
export interface ErrorTypeInfo {
  category: ErrorCategory;
  /** Whether the same call may succeed if sent again unchanged. */
  retryable: boolean;
  /** What happens to the worker that was running the call, if any. */
  worker: 'kept' | 'replaced' | 'none';
}

/**
 * Category, retry advice and worker fate of every error type. The table is
 * the single source for `PyroostError.category` and `retryable`, and
 * docs/errors.md documents the same rows.
 */
export const ERROR_TYPES: Readonly<Record<ErrorType, ErrorTypeInfo>> = {
  checkout_timeout: { category: 'timeout', retryable: true, worker: 'none' },
  execution_timeout: {
    category: 'timeout',
    retryable: true,
    worker: 'replaced',
  },
  start_timeout: { category: 'timeout', retryable: true, worker: 'replaced' },
  aborted: { category: 'timeout', retryable: true, worker: 'replaced' },
  queue_full: { category: 'resource', retryable: true, worker: 'none' },
  pool_closed: { category: 'resource', retryable: false, worker: 'none' },
  worker_busy: { category: 'resource', retryable: true, worker: 'kept' },
  memory_limit: { category: 'resource', retryable: true, worker: 'replaced' },
  protocol_error: {
    category: 'communication',
    retryable: true,
    worker: 'replaced',
  },
  frame_too_large: {
    category: 'communication',
    retryable: false,
    worker: 'kept',
  },
  worker_crashed: { category: 'system', retryable: true, worker: 'replaced' },
  spawn_failed: { category: 'system', retryable: false, worker: 'none' },
  pool_unhealthy: { category: 'system', retryable: true, worker: 'none' },
  invalid_input: { category: 'program', retryable: false, worker: 'kept' },
  invalid_output: { category: 'program', retryable: false, worker: 'kept' },
  program_not_found: { category: 'program', retryable: false, worker: 'kept' },
  program_error: { category: 'program', retryable: false, worker: 'kept' },
};

const CATEGORIES: ReadonlySet<string> = new Set<ErrorCategory>([
  'timeout',
  'resource',
  'communication',
  'system',
  'program',
]);

/** Facts that explain an error: worker id, pid, program, session id, exit code, traceback. */
export type ErrorContext = Record<string, unknown>;

/** Options of the `PyroostError` constructor. */
export interface PyroostErrorOptions {
  type: ErrorType;
  message: string;
  /** Defaults to the category of `type` in `ERROR_TYPES`. */
  category?: ErrorCategory;
  context?: ErrorContext;
  cause?: unknown;
}

/** Plain-object form of a `PyroostError`, as sent over the wire. */
export interface PyroostErrorJson {
  category: ErrorCategory;
  type: ErrorType;
  message: string;
  context: ErrorContext;
}

/** The one error class of pyroost: every failure a caller sees is one of these. */
export class PyroostError extends Error {
  override readonly name = 'PyroostError';
  readonly category: ErrorCategory;
  readonly type: ErrorType;
  readonly context: ErrorContext;

  constructor(options: PyroostErrorOptions) {
    super(
      options.message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.type = options.type;
    this.category =
      options.category ?? ERROR_TYPES[options.type]?.category ?? 'system';
    this.context = options.context ?? {};
  }

  /** Whether the same call may succeed if sent again unchanged. */
  get retryable(): boolean {
    return ERROR_TYPES[this.type]?.retryable ?? false;
  }

  toJSON(): PyroostErrorJson {
    return {
      category: this.category,
      type: this.type,
      message: this.message,
      context: this.context,
    };
  }

  /**
   * Rebuilds an error from its JSON form, as received from a Python worker or
   * another machine. Unknown categories fall back to the type's category. A
   * value that is not a JSON object becomes a `protocol_error`, and a missing
   * `type` becomes `program_error`.
   */
  static fromJSON(
    value: unknown,
    extraContext: ErrorContext = {},
  ): PyroostError {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return new PyroostError({
        type: 'protocol_error',
        message: `Received an error that is not an object: ${describeValue(value)}`,
        context: extraContext,
      });
    }
    const record = value as Record<string, unknown>;
    const type =
      typeof record.type === 'string'
        ? (record.type as ErrorType)
        : 'program_error';
    const category =
      typeof record.category === 'string' && CATEGORIES.has(record.category)
        ? (record.category as ErrorCategory)
        : undefined;
    const message =
      typeof record.message === 'string'
        ? record.message
        : `Remote error of type ${type}`;
    const context =
      typeof record.context === 'object' &&
      record.context !== null &&
      !Array.isArray(record.context)
        ? (record.context as ErrorContext)
        : {};
    return new PyroostError({
      type,
      category,
      message,
      context: { ...context, ...extraContext },
    });
  }
}

/** Type guard for `PyroostError`, also across copies of this package. */
export function isPyroostError(value: unknown): value is PyroostError {
  return (
    value instanceof PyroostError ||
    (value instanceof Error && value.name === 'PyroostError' && 'type' in value)
  );
}

/** Short printable form of any value for error messages, at most 80 characters. */
export function describeValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else if (typeof value === 'number') text = String(value);
  else if (typeof value === 'bigint') text = `${value}n`;
  else if (typeof value === 'function')
    text = `function ${value.name || '(anonymous)'}`;
  else if (typeof value === 'symbol') text = value.toString();
  else if (value === undefined) text = 'undefined';
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = Object.prototype.toString.call(value);
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
