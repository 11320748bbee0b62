import { readFileSync } from 'node:fs';

/**
 * Who holds a data directory, told apart from whoever might later reuse its pid: the pid, the process's
 * start time (clock ticks since boot, /proc/PID/stat field 22) and the boot id. A pid alone is not enough
 * after `kill -9`: the dead owner may still be a zombie its parent has not reaped (kill(pid, 0) succeeds),
 * or another process may have been given the pid since.
 */
export interface LockOwner {
  pid: number;
  /** Undefined where /proc is not there to say (then the pid alone decides, as before). */
  startTime?: string;
  bootId?: string;
}

export interface ProcessFacts {
  /** State letter and start time of a live pid, or undefined when it does not exist. */
  stat(pid: number): { state: string; startTime: string } | undefined;
  bootId(): string | undefined;
  /** kill(pid, 0): exists (or exists but is not ours to signal). */
  exists(pid: number): boolean;
}

/** Parses /proc/PID/stat: the command name is in parentheses and may itself hold spaces and parentheses. */
export function parseStat(text: string): { state: string; startTime: string } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text.slice(close + 2).split(' ');
  // After the name: field 3 (state) is fields[0], so field 22 (starttime) is fields[19].
  const state = fields[0];
  const startTime = fields[19];
  return state && startTime && /^\d+$/.test(startTime) ? { state, startTime } : undefined;
}

const readOr = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

export const systemProcessFacts: ProcessFacts = {
  stat: (pid) => {
    const text = readOr(`/proc/${pid}/stat`);
    return text === undefined ? undefined : parseStat(text);
  },
  bootId: () => readOr('/proc/sys/kernel/random/boot_id')?.trim() || undefined,
  exists: (pid) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  },
};

/** This process, as it writes itself into the lock file. */
export function currentOwner(facts: ProcessFacts = systemProcessFacts): LockOwner {
  const stat = facts.stat(process.pid);
  return { pid: process.pid, ...(stat ? { startTime: stat.startTime } : {}), ...(facts.bootId() ? { bootId: facts.bootId() } : {}) };
}

/** Reads a lock file: this format (JSON), or the older bare pid. Unreadable content holds no lock. */
export function parseOwner(text: string): LockOwner | undefined {
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return { pid: Number(trimmed) };
  try {
    const value = JSON.parse(trimmed) as Partial<LockOwner>;
    if (!Number.isInteger(value.pid) || (value.pid as number) <= 0) return undefined;
    return {
      pid: value.pid as number,
      ...(typeof value.startTime === 'string' ? { startTime: value.startTime } : {}),
      ...(typeof value.bootId === 'string' ? { bootId: value.bootId } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether the recorded owner still runs: the same boot, a pid that exists and is not a zombie, started at
 * the recorded time. Every fact the record lacks (or the host cannot give) is not held against it.
 */
export function ownerAlive(owner: LockOwner, facts: ProcessFacts = systemProcessFacts): boolean {
  const bootId = facts.bootId();
  if (owner.bootId !== undefined && bootId !== undefined && owner.bootId !== bootId) return false;
  if (!facts.exists(owner.pid)) return false;
  const stat = facts.stat(owner.pid);
  if (stat === undefined) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return owner.startTime === undefined || owner.startTime === stat.startTime;
}
