export { startManager, type RunningManager, type StartManagerOptions } from './start.js';
export { loadManagerConfig, managerConfigSchema, type ManagerConfig, type ManagerConfigInput, type CapacitySettings } from './config.js';
export { subscribe, feedUrl, subscribeDefaults, type Subscription, type SubscribeOptions, type SubscriptionStatus } from './client.js';
export {
  managerStateSchema, siteStateSchema, gatewayStateSchema, feedMessageSchema, helloSchema, reportSchema, tunnelReportSchema,
  gatewayAddressesSchema, managerRoleSchema,
  type ManagerState, type SiteState, type GatewayState, type FeedMessage, type Hello, type HelloInput, type Report, type ReportInput,
  type TunnelReport, type GatewayAddresses, type ManagerRole, type SubscriberRole,
} from './feed-schema.js';
export { diffStates, applyStatePatch, type StatePatch, type PatchPath } from './feed-patch.js';
export { siteBodySchema, ringsBodySchema, qosTargetSchema, type SiteBody, type SiteBodyInput, type QosTarget, type Origin, type Route } from './site-schema.js';
export {
  CapacityReactor, type CapacityRules, type CapacityView, type CapacitySite, type CapacityGateway, type CapacityDecision,
} from './capacity.js';
export { FileStore } from './file-store.js';
export { STORE_CONFLICT, type Store } from './store.js';
export { applyChange, emptyDurableState, changeSchema, type Change, type DurableState, type GatewayKind, type SiteRecord, type GatewayRecord } from './durable.js';
export { managerDefaults, managerLimits, DEFAULT_RING_WEIGHTS } from './defaults.js';
export { STREAM_PATH } from './feed-server.js';
export { OriginBudgets, nextGrants, targetShares, budgetSlack, type BudgetMember } from './origin-budget.js';
export { zoneRecordSchema, zoneRecordsBodySchema, type ZoneRecord } from './zone-records.js';
