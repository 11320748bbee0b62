import { readFileSync } from 'node:fs';

/** Where Linux keeps the system-wide (per network namespace) TCP_NOTSENT_LOWAT. */
const NOTSENT_LOWAT_FILE = '/proc/sys/net/ipv4/tcp_notsent_lowat';

/** Unsent bytes the kernel may hold per tunnel socket before priorities stop holding (docs/operations.md). */
export const ADVISED_NOTSENT_LOWAT = 16_384;

/**
 * Why this host would blunt priorities, or undefined when it is set up well. The blender orders bytes only
 * until the kernel takes them: with the default notsent low-water mark (unlimited) a tunnel socket queues
 * about a megabyte unsent on a slow link, and a high-priority answer waits behind it (bench `priority`:
 * p50 110 ms with 16 KiB, 540 ms without). Node cannot set TCP_NOTSENT_LOWAT per socket, so the host must.
 */
export function notSentLowatAdvice(read: (file: string) => string = (file) => readFileSync(file, 'utf8')): string | undefined {
  let value: number;
  try {
    value = Number(read(NOTSENT_LOWAT_FILE).trim());
  } catch {
    return undefined; // not Linux, or no procfs: nothing to advise
  }
  if (Number.isFinite(value) && value <= 4 * ADVISED_NOTSENT_LOWAT) return undefined;
  return `net.ipv4.tcp_notsent_lowat is ${value}: tunnel priorities blunt on slow links; set sysctl -w net.ipv4.tcp_notsent_lowat=${ADVISED_NOTSENT_LOWAT}`;
}
