/**
 * Static DNS records the redirector serves beside the steered site names, kept per zone apex by the
 * front-end manager (`PUT /v1/zones/{apex}/records`) and pushed in the feed as `zoneRecords`. Each record
 * is checked with the redirector's own parser, so what the API accepts the redirector can serve.
 */
import { domainSchema } from '@overlay/common';
import { parseRecordData, RecordDataError, recordTypeCode } from '@overlay/redirector';
import { z } from 'zod';

/** Records per zone the API accepts at once. */
export const MAX_ZONE_RECORDS = 10_000;

export const zoneRecordSchema = z
  .strictObject({
    /** `@` for the apex, a name at or below it, or a name relative to it. */
    name: z.string().min(1).max(253),
    type: z.string().min(1).max(16),
    /** Presentation form, as in a zone file (or `\# len hex`). */
    data: z.string().max(65_535),
    ttl: z.number().int().min(0).max(2_147_483_647).optional(),
  })
  .superRefine((record, ctx) => {
    try {
      parseRecordData(recordTypeCode(record.type), record.data);
    } catch (err) {
      if (!(err instanceof RecordDataError)) throw err;
      ctx.addIssue({ code: 'custom', path: ['data'], message: err.message });
    }
  });

export type ZoneRecord = z.output<typeof zoneRecordSchema>;

export const zoneRecordsBodySchema = z.strictObject({ records: z.array(zoneRecordSchema).max(MAX_ZONE_RECORDS) });

export const zoneApexSchema = domainSchema;
