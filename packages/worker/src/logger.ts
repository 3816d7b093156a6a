import { PyroostError, describeValue } from '@pyroost/protocol';

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

type LogMethod = (fields: LogFields, message: string) => void;

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/**
 * The subset of a pino logger that pyroost calls. Pass a pino instance, or
 * any object with these four methods taking `(fields, message)`.
 */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

const ignore: LogMethod = () => undefined;

/** Logger that drops everything; the default, so libraries stay silent. */
export const silentLogger: Logger = {
  debug: ignore,
  info: ignore,
  warn: ignore,
  error: ignore,
};

/**
 * Checks a user's logger and wraps it so that an exception thrown by the
 * logger never escapes into pyroost's callbacks. Returns `silentLogger` for
 * undefined. Throws `invalid_input` when a method is missing.
 */
export function toSafeLogger(logger: unknown): Logger {
  if (logger === undefined) return silentLogger;
  if (logger === silentLogger || safeLoggers.has(logger as Logger))
    return logger as Logger;
  const missing = LEVELS.filter(
    (level) =>
      typeof logger !== 'object' ||
      logger === null ||
      typeof (logger as Record<string, unknown>)[level] !== 'function',
  );
  if (missing.length > 0) {
    throw new PyroostError({
      type: 'invalid_input',
      message:
        `Option logger must have debug, info, warn and error methods (a pino logger works); ` +
        `${describeValue(logger)} lacks ${missing.join(', ')}.`,
      context: { option: 'logger' },
    });
  }
  const target = logger as Logger;
  const wrap =
    (level: (typeof LEVELS)[number]): LogMethod =>
    (fields, message) => {
      try {
        target[level](fields, message);
      } catch {
        // A failing logger must not break the pool; the line is lost.
      }
    };
  const safe: Logger = {
    debug: wrap('debug'),
    info: wrap('info'),
    warn: wrap('warn'),
    error: wrap('error'),
  };
  safeLoggers.add(safe);
  return safe;
}

/** Loggers already wrapped, so that each layer does not wrap them again. */
const safeLoggers = new WeakSet<Logger>();
