export { LimitController, type AdjustReason, type ControllerPhase, type ControllerSnapshot, type LimitAdjustment, type LimitControllerDeps } from './controller.js';
export { OriginLimit, type OriginWaiters } from './origin-limit.js';
export { StaticLimit, type LimitControl, type Sample, type SampleContext } from './sample.js';
export { SiteQueue, type Grant, type PickOrigin, type SiteQueueDeps, type SubmitOptions } from './site-queue.js';
export { AdmissionGate, type Admission, type AdmissionRequest, type AdmissionTicket, type GateState } from './gate.js';
export { AdmissionErrorCode, queueTimeoutError, queueFullError, noOriginError, abortedError } from './errors.js';
export { systemTimers, type Timers, type TimerHandle } from './timers.js';
export { modelServiceTimeMs, modelThroughputPerSec, type OriginModel } from './model.js';
export {
  defaultLimitControllerOptions, defaultSiteQueueOptions, defaultAdmissionGateOptions,
  verifyLimitControllerOptions, verifySiteQueueOptions, verifyAdmissionGateOptions,
  type LimitControllerOptions, type SiteQueueOptions, type AdmissionGateOptions,
} from './options.js';
