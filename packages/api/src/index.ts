export {
  PythonPool,
  type PythonPoolOptions,
  type ExecuteProgramOptions,
  type ExecuteBatchOptions,
  type HealthReport,
  type PythonPoolStats,
} from './pythonPool.js';
export {
  PyroostError,
  isPyroostError,
  ERROR_TYPES,
  type ErrorCategory,
  type ErrorType,
  type PyroostErrorJson,
} from '@pyroost/protocol';
export type { BatchResult, Logger } from '@pyroost/worker';
export type { PoolStats, SessionInfo } from '@pyroost/pool';
export { PoolSupervisor, PoolMonitor } from '@pyroost/supervisor';
