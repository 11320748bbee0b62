/**
 * The demo system's configuration, shared by `overlay demo` (one machine, loopback) and the lab system
 * (namespaces): the role configs and the site as an operator puts it through the manager API. Only the
 * addresses differ between the two.
 */

export const DEMO_SITE = 'shop.demo.test';
export const DEMO_ZONE = 'demo.test';
export const DEMO_BACK_END_ID = 'be-1';

export interface ManagerLink {
  /** One manager, or every replica's URL (gateways move to the next when theirs fails). */
  url: string | string[];
  token: string;
}

/**
 * `PUT /v1/sites/shop.demo.test`: both origins, served through the named front-ends and back-ends; with a
 * certificate (PEM), the front-ends serve the site over HTTPS too.
 */
export function demoSiteBody(originUrls: string[], frontEnds: string[], backEnds: string[], certificate?: { cert: string; key: string }) {
  return { domains: [DEMO_SITE], mode: 'http', origins: originUrls.map((url) => ({ url })), frontEnds, backEnds, ...(certificate ? { certificate } : {}) };
}

/** `PUT /v1/sites/shop.demo.test/priorities`: gold customers first, bulk downloads last. */
export const DEMO_PRIORITIES = Object.freeze({
  default: 2,
  rules: [
    { match: { cookie: { name: 'tier', value: 'gold' } }, priority: 0 },
    { match: { pathPrefix: '/bytes/' }, priority: 3 },
  ],
});

export function managerConfig(listen: string, token: string, dataDir: string, etcdEndpoints: string[] = []) {
  return { role: 'both', listen, token, dataDir, ...(etcdEndpoints.length ? { store: { etcd: { endpoints: etcdEndpoints } } } : {}) };
}

export function backEndConfig(id: string, tunnel: string, admin: string, manager: ManagerLink, tunnelKey: string) {
  return { id, tunnel: { listen: tunnel, keys: [tunnelKey] }, admin, manager };
}

/** `https`: the HTTPS listener's address; its certificates come with the sites from the manager. */
export function frontEndConfig(id: string, http: string, admin: string, manager: ManagerLink, tunnelKey: string, https?: string) {
  return { id, pop: id, http: { listen: http }, ...(https ? { https: { listen: https } } : {}), admin, manager: { ...manager, tunnelKey } };
}

export function redirectorConfig(
  listen: { host: string; port: number },
  admin: { host: string; port: number },
  nameServer: string,
  popPreferences: Record<string, string[]>,
  manager: ManagerLink,
) {
  return {
    id: 'redirector',
    listen,
    admin,
    zones: { [DEMO_ZONE]: { ns: [{ name: `ns1.${DEMO_ZONE}`, addresses: [nameServer] }] } },
    popPreferences,
    manager,
  };
}
