export { frontEndStateFrom, backEndStateFrom, redirectorStateFrom, type RedirectorBase } from './adapt.js';
export { attachFrontEnd, attachBackEnd, attachRedirector, type Attached, type ManagerLink } from './attach.js';
