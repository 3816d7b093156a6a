export {
  PythonWorker,
  type PythonWorkerOptions,
  type ExecuteOptions,
  type BatchResult,
  type WorkerState,
  type WorkerExit,
} from './pythonWorker.js';
export { EncodedInputs, isPlainObject } from './encodedInputs.js';
export {
  silentLogger,
  toSafeLogger,
  type Logger,
  type LogFields,
} from './logger.js';
export {
  MAX_TIMER_MS,
  checkDurationMs,
  checkInteger,
  checkProvider,
  checkSignal,
} from './optionChecks.js';
export { MIN_MAX_FRAME_BYTES } from './workerOptions.js';
export { findBridgeDirectory } from './bridgePath.js';
export { unwatchAbort, watchAbort, type AbortWatcher } from './abortWatch.js';
export {
  ATTR_SESSION_ID,
  getTracer,
  recordFailure,
  toTraceparent,
  nanosToHrTime,
} from './tracing.js';
