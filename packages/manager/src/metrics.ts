import { Counter, Gauge, Histogram, type Registry } from '@overlay/common';

export type ManagerMetrics = ReturnType<typeof createManagerMetrics>;

/** The manager's series (docs/manager.md "Metrics"); process metrics come with the registry. */
export function createManagerMetrics(registry: Registry) {
  const registers = [registry];
  return {
    apiRequests: new Counter({ name: 'overlay_manager_api_requests_total', help: 'API requests answered, by method and status', labelNames: ['method', 'status'], registers }),
    storeWriteSeconds: new Histogram({
      name: 'overlay_manager_store_write_seconds',
      help: 'Time to make one change durable (write + fsync)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    compactions: new Counter({ name: 'overlay_manager_store_compactions_total', help: 'Snapshots written to fold the change log', registers }),
    version: new Gauge({ name: 'overlay_manager_state_version', help: 'Current state version', registers }),
    sites: new Gauge({ name: 'overlay_manager_sites', help: 'Configured sites', registers }),
    gateways: new Gauge({ name: 'overlay_manager_gateways', help: 'Registered gateways by kind and health', labelNames: ['kind', 'health'], registers }),
    subscribers: new Gauge({ name: 'overlay_manager_feed_subscribers', help: 'Connected feed subscribers', registers }),
    feedMessages: new Counter({ name: 'overlay_manager_feed_messages_total', help: 'Feed messages sent, by type', labelNames: ['type'], registers }),
    feedDropped: new Counter({ name: 'overlay_manager_feed_dropped_total', help: 'Subscribers dropped, by reason', labelNames: ['reason'], registers }),
    reports: new Counter({ name: 'overlay_manager_reports_total', help: 'Gateway reports received', labelNames: ['kind'], registers }),
    capacityDecisions: new Counter({ name: 'overlay_manager_capacity_decisions_total', help: 'Capacity reaction decisions, by action', labelNames: ['action'], registers }),
  };
}
