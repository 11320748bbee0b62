/** The same name rules as the gateways' own configs (@overlay/common), so whatever the manager accepts they accept too. */
export { domainSchema, gatewayIdSchema, hostPortSchema, siteNameSchema } from '@overlay/common';
