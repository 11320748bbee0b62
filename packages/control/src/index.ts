export { frontEndStateFrom, backEndStateFrom, redirectorStateFrom, type RedirectorBase } from './adapt.js';
export { attachFrontEnd, attachBackEnd, attachRedirector, reportedRingBytes, type Attached, type AttachedRedirector, type ManagerLink } from './attach.js';
