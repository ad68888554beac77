import { describe, expect, it } from 'vitest';
import { emulatorCredential } from '../../../src/adapters/credential';
import {
  createBlobServiceClient,
  createQueueServiceClient,
  queueUriFromBlobUri,
} from '../../../src/adapters/storage-clients';
import { devConnectionString } from '../../../dev/azurite';

describe('storage clients', () => {
  it('use the connection string when one is set', () => {
    const connectionString = devConnectionString(
      'http://127.0.0.1:10000/devstoreaccount1',
      'http://127.0.0.1:10001/devstoreaccount1',
    );
    expect(createBlobServiceClient({ connectionString }).url).toBe('http://127.0.0.1:10000/devstoreaccount1');
    expect(createQueueServiceClient({ connectionString }).url).toBe('http://127.0.0.1:10001/devstoreaccount1');
  });

  it('use identity-based endpoints, deriving the queue endpoint from the blob one', () => {
    const settings = { blobServiceUri: 'https://acct.blob.core.windows.net', credential: emulatorCredential };
    expect(createBlobServiceClient(settings).url).toMatch(/^https:\/\/acct\.blob\.core\.windows\.net\/?$/);
    expect(createQueueServiceClient(settings).url).toMatch(/^https:\/\/acct\.queue\.core\.windows\.net\/?$/);
    expect(queueUriFromBlobUri('http://127.0.0.1:10000/devstoreaccount1')).toBeUndefined();
  });

  it('name the missing setting when neither is configured', () => {
    expect(() => createBlobServiceClient({})).toThrow(/KVGUARD_STORAGE__blobServiceUri/);
    expect(() => createBlobServiceClient({ blobServiceUri: 'https://acct.blob.core.windows.net' })).toThrow(
      /credential/,
    );
  });
});
