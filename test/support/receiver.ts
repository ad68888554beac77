import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { generate } from 'selfsigned';

/** One request the receiver got. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** The status the receiver answered (or `'hang'`). */
  answered: number | 'hang';
}

/** A local HTTP(S) endpoint on 127.0.0.1 that records requests and answers what it is told. */
export interface Receiver {
  url: string;
  requests: ReceivedRequest[];
  /** Status of the next answers (default 200); `'hang'` never answers. */
  respondWith(status: number | 'hang'): void;
  /** Status of the next answer only; later ones go back to the `respondWith` status. */
  respondOnceWith(status: number): void;
  close(): Promise<void>;
}

/** Starts a receiver on an ephemeral port; with `tls`, serves HTTPS with that certificate. */
export async function startReceiver(tls?: { cert: string; key: string }): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  let status: number | 'hang' = 200;
  const once: number[] = [];
  const hanging: ServerResponse[] = [];
  const handler = (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      // The Application Insights exporter gzips its batches.
      const text = (request.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      const answer = once.shift() ?? status;
      requests.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: text ? JSON.parse(text) : undefined,
        answered: answer,
      });
      if (answer === 'hang') {
        hanging.push(response);
        return;
      }
      response
        .writeHead(answer, { 'content-type': 'application/json' })
        .end(answer >= 400 ? '{"error":{"code":"Failed","message":"no"}}' : '');
    });
  };
  const server: Server = tls ? createHttpsServer(tls, handler) : createHttpServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://${tls ? 'localhost' : '127.0.0.1'}:${port}`,
    requests,
    respondWith: (next) => {
      status = next;
    },
    respondOnceWith: (next) => {
      once.push(next);
    },
    close: async () => {
      for (const response of hanging) response.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A self-signed certificate for `localhost` and 127.0.0.1 (PEM), for an HTTPS receiver a client is told to trust. */
export async function localhostTls(): Promise<{ cert: string; key: string }> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
