import type { Lab } from './lab.js';

/** Response body kept from a request made inside the lab, bytes. */
const MAX_BODY_BYTES = 64 * 1024;
const REQUEST_TIMEOUT_MS = 5_000;

export interface LabRequest {
  method?: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LabResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Runs in the host's namespace: one request with node:http (which, unlike fetch, lets us set Host). */
const CLIENT = `
const http = require('node:http');
const { method = 'GET', url, headers = {}, body } = JSON.parse(process.argv[1]);
const request = http.request(url, { method, headers, timeout: ${REQUEST_TIMEOUT_MS} }, (response) => {
  const chunks = [];
  let size = 0;
  response.on('data', (chunk) => { if (size < ${MAX_BODY_BYTES}) { chunks.push(chunk); size += chunk.length; } });
  response.on('end', () => {
    const text = Buffer.concat(chunks).subarray(0, ${MAX_BODY_BYTES}).toString();
    console.log(JSON.stringify({ status: response.statusCode, headers: response.headers, body: text }));
  });
});
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', (err) => { console.error(err.message); process.exit(1); });
request.end(body);
`;

/**
 * An HTTP request made from inside a lab host: the lab's addresses are reachable only from its
 * namespaces, not from the namespace that started it.
 */
export async function requestFrom(lab: Lab, host: string, request: LabRequest): Promise<LabResponse> {
  const { stdout } = await lab.exec(host, process.execPath, ['-e', CLIENT, JSON.stringify(request)], { timeoutMs: REQUEST_TIMEOUT_MS + 5_000 });
  return JSON.parse(stdout) as LabResponse;
}
