import { z } from 'zod';

/** One delivered event, whichever schema carried it. */
export interface EventEnvelope {
  schema: 'EventGrid' | 'CloudEvents';
  id: string;
  /** `eventType` (Event Grid) or `type` (CloudEvents), e.g. `Microsoft.KeyVault.KeyNewVersionCreated`. */
  type: string;
  /** `topic` (Event Grid) or `source` (CloudEvents): for Key Vault, the vault's resource id. */
  source?: string;
  subject?: string;
  time?: Date;
  /** The event's payload, decoded from JSON text or base64 when it came that way; may be anything. */
  data: unknown;
}

/** A parse that either succeeded or says why not, in words fit for a log line. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const text = z.string().trim().min(1);
/** Optional descriptive fields never make an event unreadable: anything but non-empty text becomes undefined. */
export const optionalText = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined));
const optionalTime = z
  .unknown()
  .optional()
  .transform((v) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v) : undefined));

/**
 * A topic / source names a resource (for Key Vault, the vault's resource id): a `..` path segment or a control
 * character means the event is not what it claims to be, so that one event is rejected (its batch is not).
 */
function isPlausibleSource(source: string | undefined): boolean {
  return source === undefined || (!/(^|[/\\])\.\.([/\\]|$)/.test(source) && !/\p{Cc}/u.test(source));
}
const SOURCE_RULE = { error: 'must be a resource id without ".." segments or control characters' };

/** Event Grid schema, with keys lower-cased (see {@link lowerCaseKeys}). */
const eventGridSchema = z.object({
  id: text,
  eventtype: text,
  topic: optionalText.refine(isPlausibleSource, SOURCE_RULE),
  subject: optionalText,
  eventtime: optionalTime,
  data: z.unknown().optional(),
});

/** CloudEvents 1.0 structured mode, with keys lower-cased. */
const cloudEventSchema = z.object({
  specversion: z.literal('1.0', { error: 'specversion must be "1.0"' }),
  id: text,
  type: text,
  source: text.refine(isPlausibleSource, SOURCE_RULE),
  subject: optionalText,
  time: optionalTime,
  data: z.unknown().optional(),
  data_base64: z.string().optional(),
});

/**
 * Reads one raw delivery as an Event Grid schema event or a CloudEvents 1.0 event. Property names are matched
 * case-insensitively, because hosts and hand-written senders are not consistent about them.
 */
export function parseEnvelope(raw: unknown): Parsed<EventEnvelope> {
  const body = lowerCaseKeys(typeof raw === 'string' ? tryJson(raw) : raw);
  if (!body) return { ok: false, reason: `event is ${describeShape(raw)}, not a JSON object` };
  if ('specversion' in body) {
    const parsed = cloudEventSchema.safeParse(body);
    if (!parsed.success) return { ok: false, reason: `invalid CloudEvent: ${issues(parsed.error)}` };
    const e = parsed.data;
    const data = e.data !== undefined ? e.data : e.data_base64 !== undefined ? fromBase64(e.data_base64) : undefined;
    return {
      ok: true,
      value: {
        schema: 'CloudEvents',
        id: e.id,
        type: e.type,
        source: e.source,
        subject: e.subject,
        time: e.time,
        data: decodeData(data),
      },
    };
  }
  if ('eventtype' in body) {
    const parsed = eventGridSchema.safeParse(body);
    if (!parsed.success) return { ok: false, reason: `invalid Event Grid event: ${issues(parsed.error)}` };
    const e = parsed.data;
    return {
      ok: true,
      value: {
        schema: 'EventGrid',
        id: e.id,
        type: e.eventtype,
        source: e.topic,
        subject: e.subject,
        time: e.eventtime,
        data: decodeData(e.data),
      },
    };
  }
  return { ok: false, reason: 'event has neither eventType (Event Grid schema) nor specversion (CloudEvents 1.0)' };
}

/** The object's own properties with lower-cased names; undefined when `value` is not a plain object. */
export function lowerCaseKeys(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const result: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    const lower = key.toLowerCase();
    // A property spelled exactly in lower case wins over a differently-cased duplicate.
    if (!(lower in result) || key === lower) result[lower] = v;
  }
  return result;
}

/** Payloads sometimes arrive as JSON text rather than an object. */
function decodeData(data: unknown): unknown {
  return typeof data === 'string' && /^\s*[{[]/.test(data) ? (tryJson(data) ?? data) : data;
}

function fromBase64(encoded: string): unknown {
  return tryJson(Buffer.from(encoded, 'base64').toString('utf8'));
}

function tryJson(source: string): unknown {
  try {
    return JSON.parse(source);
  } catch {
    return undefined;
  }
}

function describeShape(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  if (typeof raw === 'string') return 'text that is not JSON';
  return `a ${typeof raw}`;
}

/** zod issues as `field: message; …` (values are not echoed: payloads are not ours). */
export function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}
