/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

type LogMethod = (fields: LogFields, message: string) => void;

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
