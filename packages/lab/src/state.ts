import { randomInt } from 'node:crypto';
import { mkdir, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OverlayError } from '@overlay/common';
import { listNamespaces, removeNamespaces } from './namespaces.js';
import { FIRST_OCTET, LAST_OCTET, labIdOf, type LabSlot } from './plan.js';

/**
 * Which lab instances exist and who owns them: one file per lab, `<octet>.json`, created exclusively, so
 * two labs (even in two processes) never take the same addresses or id. A crashed owner leaves its file
 * and namespaces behind; `sweepLabs` finds them by the owner's PID (and start time, against PID reuse).
 */
export const DEFAULT_STATE_DIR = process.env.OVERLAY_LAB_STATE_DIR ?? '/run/overlay-lab';

/** Name prefix of a lab's scratch directory in the OS temp dir: `overlay-lab-<id>-XXXXXX`. */
export function labDirPrefix(id: string): string {
  return `overlay-lab-${id}-`;
}

/** Scratch directories of labs that are not live. */
async function strayDirs(live: Set<string>): Promise<string[]> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  return names.filter((name) => {
    const id = /^overlay-lab-([0-9a-f]{4})-/.exec(name)?.[1];
    return id !== undefined && !live.has(id);
  }).map((name) => join(tmpdir(), name));
}

interface LabRecord extends LabSlot {
  pid: number;
  /** The owner's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  started: string;
}

export interface ClaimedSlot extends LabSlot {
  /** Forgets the claim (after the lab's namespaces are gone). */
  release(): Promise<void>;
}

/** A live process's start time, or undefined when it is gone or a zombie (dead, not yet reaped). */
async function processStart(pid: number): Promise<string | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces: state first.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' || fields[0] === 'X' ? undefined : fields[19];
  } catch {
    return undefined;
  }
}

async function ownerAlive(record: LabRecord): Promise<boolean> {
  return (await processStart(record.pid)) === record.started;
}

async function readRecords(stateDir: string): Promise<Array<{ file: string; record: LabRecord }>> {
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch {
    return [];
  }
  const records = [];
  for (const name of names.filter((n) => /^\d+\.json$/.test(n))) {
    const file = join(stateDir, name);
    try {
      records.push({ file, record: JSON.parse(await readFile(file, 'utf8')) as LabRecord });
    } catch {
      // Half-written by an owner that crashed mid-claim: no owner to keep it for.
      records.push({ file, record: { id: '', octet: -1, pid: -1, started: '' } });
    }
  }
  return records;
}

/** Takes a free address block and id for a new lab, owned by this process. */
export async function claimSlot(stateDir = DEFAULT_STATE_DIR): Promise<ClaimedSlot> {
  await mkdir(stateDir, { recursive: true });
  const taken = new Set((await readRecords(stateDir)).map(({ record }) => record.octet));
  const free = [];
  for (let octet = FIRST_OCTET; octet <= LAST_OCTET; octet++) if (!taken.has(octet)) free.push(octet);
  const started = await processStart(process.pid);
  while (free.length > 0) {
    // Random, so two processes racing for a slot rarely try the same one first.
    const [octet] = free.splice(randomInt(free.length), 1);
    const id = `${octet.toString(16)}${randomInt(256).toString(16).padStart(2, '0')}`;
    const file = join(stateDir, `${octet}.json`);
    const record: LabRecord = { id, octet, pid: process.pid, started: started ?? '' };
    try {
      await writeFile(file, JSON.stringify(record), { flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    return { id, octet, release: () => unlink(file).catch(() => {}) };
  }
  throw new OverlayError('ERR_LAB_NO_SLOT', `all ${LAST_OCTET - FIRST_OCTET + 1} lab slots are in use (see ${stateDir})`, { retryable: true });
}

/** Deletes a dead owner's record unless a new lab re-claimed the slot since it was read (a sweeper racing another). */
async function forgetIfUnchanged({ file, record }: { file: string; record: LabRecord }): Promise<void> {
  const now = await readFile(file, 'utf8').catch(() => undefined);
  if (now === undefined) return;
  try {
    const current = JSON.parse(now) as LabRecord;
    if (current.pid !== record.pid || current.id !== record.id) return;
  } catch {
    // Still unreadable: the same half-written record.
  }
  await unlink(file).catch(() => {});
}

/**
 * Removes what crashed labs left: namespaces named like a lab's whose owner is dead or unknown, with
 * any process still inside them, their scratch directories, and the owners' state files. Live labs (any process) are untouched.
 * Returns the namespaces removed.
 */
export async function sweepLabs(stateDir = DEFAULT_STATE_DIR): Promise<string[]> {
  // Namespaces first, records second: a lab claims its record before it creates namespaces, so every
  // namespace listed here already has its record on disk when the records are read.
  const namespaces = await listNamespaces();
  const records = await readRecords(stateDir);
  const live = new Set<string>();
  const dead: Array<{ file: string; record: LabRecord }> = [];
  for (const entry of records) {
    if (await ownerAlive(entry.record)) live.add(entry.record.id);
    else dead.push(entry);
  }
  const orphans = namespaces.filter((namespace) => {
    const id = labIdOf(namespace);
    return id !== undefined && !live.has(id);
  });
  await removeNamespaces(orphans);
  await Promise.all((await strayDirs(live)).map((dir) => rm(dir, { recursive: true, force: true })));
  await Promise.all(dead.map(forgetIfUnchanged));
  return orphans;
}
