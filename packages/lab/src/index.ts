export { startLab, type Lab } from './lab.js';
export { resolveLabOptions, bandwidthDelayBytes, defaultLabOptions, type LabOptions } from './options.js';
export { type LabHost } from './plan.js';
export { type LinkCounters, type DirectionCounters } from './forwarder.js';
export { sweepLabs } from './state.js';
export { startLabSystem, LAB_SYSTEM_LAYOUT, type LabSystem, type LabSystemOptions } from './system.js';
export { requestFrom, type LabRequest, type LabResponse } from './ns-http.js';
export {
  DEMO_SITE, DEMO_ZONE, DEMO_BACK_END_ID, DEMO_PRIORITIES, demoSiteBody, managerConfig, backEndConfig, frontEndConfig, redirectorConfig, type ManagerLink,
} from './demo-site.js';
export { startLabDemo, type LabDemo } from './lab-demo.js';
export { planLabTopology, defaultLabTopology, type LabTopologyOptions, type LabLayout } from './topology.js';
