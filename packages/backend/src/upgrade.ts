import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { OverlayError } from '@overlay/common';
import type { RequestHead } from '@overlay/stream-heads';
import { originResponseHead } from './answers.js';
import { BackEndErrorCode, CONNECT_TIMEOUT_CODE, originError } from './errors.js';
import type { StreamExchange } from './exchange.js';
import type { OriginLease } from './lease.js';
import { headerObject, originRequestHeaders, upgradeProtocol } from './origin-request.js';
import { relayResponseBody, splice } from './relay.js';

/**
 * One connection per upgrade, never reused (an upgraded connection leaves any pool), from agents shared by
 * every upgrade: an agent per request stayed alive as long as its WebSocket (bench `scale`).
 */
const upgradeAgents = { http: new HttpAgent({ keepAlive: false }), https: new HttpsAgent({ keepAlive: false }) };

/**
 * An upgrade (WebSocket) on its own origin connection: upgraded connections leave any pool. On 101 the
 * REPLY carries the origin's end-to-end headers and the stream turns raw; the slot is released then (it
 * covers the handshake, not the connection's life). Any other answer is relayed as a normal response.
 */
export function forwardUpgrade(exchange: StreamExchange, lease: OriginLease, head: RequestHead, originHost?: string): Promise<OverlayError | undefined> {
  const { gateway, stream, gone } = exchange;
  const origin = lease.origin;
  const headers = { ...headerObject(originRequestHeaders(head, origin, originHost)), connection: 'Upgrade', upgrade: upgradeProtocol(head) };
  const { connectTimeoutMs, responseTimeoutMs } = gateway.state.pool;
  return new Promise((resolve) => {
    let answered = false;
    const secure = origin.url.protocol === 'https:';
    const request = (secure ? httpsRequest : httpRequest)({
      host: origin.host,
      port: origin.port,
      method: head.method,
      path: head.target,
      headers,
      agent: secure ? upgradeAgents.https : upgradeAgents.http,
    });
    // Connecting, then waiting for the head, each have their own time limit (as on the pooled path). Our
    // own timer, not the socket's (`timeout`): a socket timer, even cleared, stays on the socket for the
    // WebSocket's life. Nor `signal: gone.signal`: that makes an AbortController (and its EventTarget) that
    // the exchange keeps as long. Both go as soon as the origin answers.
    const timedOut = (message: string, code: string) => () => request.destroy(Object.assign(new Error(message), { code }));
    let timer = setTimeout(timedOut('no connection in time', CONNECT_TIMEOUT_CODE), connectTimeoutMs);
    const cancel = () => request.destroy(gone.reason as Error);
    const answer = () => {
      answered = true;
      clearTimeout(timer);
      gone.removeEventListener('abort', cancel);
    };
    if (gone.aborted) cancel();
    else gone.addEventListener('abort', cancel);
    request.once('socket', (socket: Socket) =>
      socket.once('connect', () => {
        clearTimeout(timer);
        if (!answered) timer = setTimeout(timedOut('no response head in time', 'UND_ERR_HEADERS_TIMEOUT'), responseTimeoutMs);
      }),
    );
    request.once('upgrade', (response: IncomingMessage, socket: Socket, rest: Buffer) => {
      answer();
      lease.responded(101);
      lease.end('ok');
      exchange.respond(originResponseHead(101, response.rawHeaders, gateway.id, origin.id));
      if (rest.length > 0) {
        exchange.countOut(rest.length);
        stream.write(rest);
      }
      // The raw splice lives on its own: settling now lets the dispatch chain (and its request, response
      // and queue frames) go, instead of holding them for the WebSocket's whole life.
      splice(exchange, socket, origin.id);
      resolve(undefined);
    });
    request.once('response', (response: IncomingMessage) => {
      answer();
      const status = response.statusCode ?? 502;
      lease.responded(status);
      exchange.respond(originResponseHead(status, response.rawHeaders, gateway.id, origin.id));
      stream.resume(); // declined: the stream never turns raw, anything the client sent is dropped
      void relayResponseBody(exchange, response, lease).then(() => resolve(undefined));
    });
    request.on('error', (err) => {
      if (answered) return; // after the head, failures surface on the response or the socket
      answer();
      if (gone.aborted) {
        exchange.cancelled(origin.id);
        lease.end('cancelled');
        return resolve(undefined);
      }
      const error = originError(err, origin.id);
      lease.end(error.code === BackEndErrorCode.originTimeout ? 'timeout' : 'error', error.message);
      if (error.code === BackEndErrorCode.originConnect) return resolve(error);
      exchange.answerError(error, origin.id);
      resolve(undefined);
    });
    request.end();
  });
}
