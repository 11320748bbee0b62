/**
 * Request types load an origin differently (seed 001 Fig. 7: database access, multimedia delivery, dynamic
 * page generation and static pages), so the balancer counts pending requests per type.
 */
export type RequestType = 'static' | 'dynamic' | 'media' | 'other';

export const requestTypes: readonly RequestType[] = Object.freeze(['static', 'dynamic', 'media', 'other']);

export interface RequestInfo {
  /** Request target as received: path, optionally with a query string. */
  path: string;
  method: string;
  /** Set when the gateway already knows the type (for example from a priority rule); wins over derivation. */
  type?: RequestType;
}

const mediaExtensions = new Set([
  'mp4', 'm4v', 'm4a', 'm4s', 'mov', 'mkv', 'webm', 'avi', 'mp3', 'aac', 'ogg', 'oga', 'ogv', 'opus', 'wav',
  'flac', 'ts', 'm3u8', 'mpd',
]);

const staticExtensions = new Set([
  'html', 'htm', 'css', 'js', 'mjs', 'map', 'json', 'xml', 'txt', 'csv', 'pdf', 'png', 'jpg', 'jpeg', 'gif',
  'svg', 'webp', 'avif', 'ico', 'bmp', 'woff', 'woff2', 'ttf', 'otf', 'eot', 'wasm', 'zip', 'gz', 'tar',
]);

const dynamicExtensions = new Set(['php', 'asp', 'aspx', 'jsp', 'cgi', 'pl', 'py', 'rb', 'do', 'action']);

/** Lower-cased extension of the last path segment, or '' when it has none. */
function extensionOf(pathOnly: string): string {
  const segment = pathOnly.slice(pathOnly.lastIndexOf('/') + 1);
  const dot = segment.lastIndexOf('.');
  return dot > 0 ? segment.slice(dot + 1).toLowerCase() : '';
}

/**
 * Derives the type from method, path and extension: media files by extension; anything that is not a
 * GET/HEAD, a script extension or a query string on a non-file path is dynamic; GET/HEAD of a known file
 * extension is static; the rest (`/`, extension-less paths, upgrades) is other.
 */
export function requestTypeOf(request: RequestInfo): RequestType {
  if (request.type) return request.type;
  const queryAt = request.path.indexOf('?');
  const pathOnly = queryAt < 0 ? request.path : request.path.slice(0, queryAt);
  const extension = extensionOf(pathOnly);
  const method = request.method.toUpperCase();
  const reads = method === 'GET' || method === 'HEAD';
  if (mediaExtensions.has(extension)) return reads ? 'media' : 'dynamic';
  if (!reads || dynamicExtensions.has(extension)) return 'dynamic';
  if (staticExtensions.has(extension)) return 'static';
  return queryAt >= 0 ? 'dynamic' : 'other';
}
