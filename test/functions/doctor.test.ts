import { describe, expect, it } from 'vitest';
import { functionDefinitions } from '../../src/functions';
import { doctorFunction } from '../../src/functions/doctor';
import { httpRequest, invocationContext } from '../core/restore/function-harness';

describe('GET /api/doctor', () => {
  it('is registered as an HTTP function guarded by the function key', () => {
    expect(functionDefinitions).toContain(doctorFunction);
    expect(doctorFunction).toMatchObject({ route: 'doctor', methods: ['GET'], authLevel: 'function' });
  });

  it('refuses an unknown query field or a bad sendTestAlert with a 400 naming it, before checking anything', async () => {
    for (const [query, field] of [
      [{ bogus: '1' }, 'bogus'],
      [{ sendTestAlert: 'yes' }, 'sendTestAlert'],
    ] as const) {
      const response = await doctorFunction.handler(
        httpRequest({ path: '/api/doctor', query }),
        invocationContext('doctor'),
      );
      expect(response.status).toBe(400);
      expect(response.jsonBody).toMatchObject({ error: { code: 'ValidationError', field } });
    }
  });
});
