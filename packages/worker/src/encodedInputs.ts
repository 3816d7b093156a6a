import {
  PyroostError,
  describeValue,
  encodeJson,
  type ErrorContext,
} from '@pyroost/protocol';

/** Returns whether a value is an object literal or has a null prototype. */
export function isPlainObject(
  value: unknown,
): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype = Object.getPrototypeOf(value) as unknown;
  return prototype === Object.prototype || prototype === null;
}

/** Adds `context` to an encoding error without overwriting what it names. */
function withContext(error: unknown, context: ErrorContext): unknown {
  if (error instanceof PyroostError) {
    const own = { ...error.context };
    Object.assign(error.context, context, own);
  }
  return error;
}

/**
 * The inputs of one call, checked and encoded as JSON text once. A pool
 * encodes them before it checks out a worker, so inputs that JSON cannot
 * carry reject at once with `invalid_input` however long the wait queue is,
 * and the worker sends the text without encoding it again.
 */
export class EncodedInputs {
  private constructor(
    /** Request field the text goes into: `inputs` or `inputs_list`. */
    readonly field: 'inputs' | 'inputs_list',
    /** JSON text of the inputs object, or of the list of inputs objects. */
    readonly json: string,
    /** Number of inputs objects: 1 for `execute`, the list length for a batch. */
    readonly count: number,
  ) {}

  /**
   * Checks and encodes the keyword arguments of one `execute` call. Throws
   * `invalid_input` for anything but a plain object, or for values JSON
   * cannot carry (see the JSON policy in docs/protocol.md). `context` is
   * added to the error.
   */
  static forExecute(
    program: string,
    inputs: unknown,
    context: ErrorContext = {},
  ): EncodedInputs {
    if (!isPlainObject(inputs)) {
      throw new PyroostError({
        type: 'invalid_input',
        message:
          `Inputs of program "${program}" must be a plain object of keyword arguments, ` +
          `got ${describeValue(inputs)}.`,
        context: { ...context, program },
      });
    }
    try {
      return new EncodedInputs('inputs', encodeJson(inputs), 1);
    } catch (error) {
      throw withContext(error, { ...context, program });
    }
  }

  /**
   * Checks and encodes the list of keyword-argument objects of one
   * `execute_batch` call; throws `invalid_input` as `forExecute` does.
   */
  static forBatch(
    program: string,
    inputsList: unknown,
    context: ErrorContext = {},
  ): EncodedInputs {
    if (!Array.isArray(inputsList) || !inputsList.every(isPlainObject)) {
      throw new PyroostError({
        type: 'invalid_input',
        message:
          `Batch inputs of program "${program}" must be an array of plain objects, ` +
          `got ${describeValue(inputsList)}.`,
        context: { ...context, program },
      });
    }
    try {
      return new EncodedInputs(
        'inputs_list',
        encodeJson(inputsList),
        inputsList.length,
      );
    } catch (error) {
      throw withContext(error, { ...context, program });
    }
  }
}
