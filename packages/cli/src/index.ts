export { runCli } from './main.js';
export { runCommand, type RunResultJson } from './run.js';
export { healthCommand } from './health.js';
export { benchCommand } from './bench.js';
export {
  parseRunOptions,
  parseHealthOptions,
  parseBenchOptions,
  type RunOptions,
  type HealthOptions,
  type BenchOptions,
  type PoolCommandOptions,
  type InputSource,
} from './options.js';
export { loadInputs, type InputItem } from './inputs.js';
export { callEach, type CallOutcome, type CallOptions } from './execution.js';
export {
  summarize,
  errorName,
  percentile,
  type RunSummary,
  type LatencyPercentiles,
} from './summary.js';
export {
  processIo,
  EXIT_OK,
  EXIT_FAILURE,
  EXIT_USAGE,
  EXIT_INTERRUPTED,
  type CliIo,
  type OutputStream,
} from './io.js';
export { UsageError } from './usage.js';
