export {
  Pool,
  type PoolOptions,
  type ExecuteOptions,
  type PoolStats,
  type RestartPolicy,
  type WorkerLoss,
} from './pool.js';
export { WaitQueue, type WaitQueueNode } from './waitQueue.js';
export { LatencyWindow, type LatencySummary } from './latencyWindow.js';
export { type SessionInfo } from './sessionRegistry.js';
