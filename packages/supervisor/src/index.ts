export {
  PoolSupervisor,
  type PoolSupervisorOptions,
} from './poolSupervisor.js';
export {
  PoolMonitor,
  type PoolMonitorOptions,
  type MonitorReport,
} from './poolMonitor.js';
