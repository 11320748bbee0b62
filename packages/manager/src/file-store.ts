import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { OverlayError, silentLogger, type Logger } from '@overlay/common';
import { applyChange, emptyDurableState, fromSnapshot, parseChange, toSnapshot, type Change, type DurableState } from './durable.js';
import { currentOwner, ownerAlive, parseOwner } from './data-lock.js';
import type { Store } from './store.js';

const SNAPSHOT = 'snapshot.json';
const LOG = 'changes.log';
const LOCK = 'lock';
const FORMAT = 1;

/** Directories locked by this process: the lock file cannot tell two managers of one process apart. */
const lockedHere = new Set<string>();

function storeError(code: string, message: string, cause?: unknown): OverlayError {
  return new OverlayError(code, message, { origin: 'internal', cause });
}

/**
 * The embedded durable store: an append-only log of changes, each line fsynced before `append`
 * resolves, folded now and then into a snapshot written atomically (temp file, fsync, rename, fsync
 * of the directory). Log lines carry a sequence number and the snapshot the last one it includes, so
 * a crash between writing the snapshot and emptying the log replays nothing twice. A torn last line
 * (a crash mid-write, never acknowledged) is dropped on load.
 */
export class FileStore implements Store {
  private readonly dir: string;
  private log: FileHandle | undefined;
  private lastSeq = 0;
  /** Set when a write failed half-way: the log's end is unknown, so nothing more may be appended. */
  private broken: Error | undefined;

  constructor(
    dir: string,
    private readonly logger: Logger = silentLogger,
  ) {
    this.dir = resolve(dir);
  }

  async load(): Promise<DurableState> {
    await mkdir(this.dir, { recursive: true });
    await this.lock();
    await rm(join(this.dir, `${SNAPSHOT}.tmp`), { force: true });
    const { state, seq } = await this.readSnapshot();
    this.lastSeq = seq;
    const replayed = await this.replayLog(state, seq);
    this.log = await open(join(this.dir, LOG), 'a');
    this.logger.info({ dir: this.dir, snapshotSeq: seq, replayed, lastSeq: this.lastSeq }, 'store loaded');
    return state;
  }

  async append(change: Change): Promise<void> {
    const log = this.writable();
    const line = `${JSON.stringify({ seq: this.lastSeq + 1, change })}\n`;
    try {
      await log.write(line);
      await log.datasync();
    } catch (err) {
      this.broken = err as Error;
      throw storeError('ERR_STORE_WRITE', `cannot append to ${join(this.dir, LOG)}: ${(err as Error).message}`, err);
    }
    this.lastSeq++;
  }

  async compact(state: DurableState): Promise<void> {
    const log = this.writable();
    const text = JSON.stringify({ format: FORMAT, seq: this.lastSeq, state: toSnapshot(state) });
    const target = join(this.dir, SNAPSHOT);
    const temp = `${target}.tmp`;
    const file = await open(temp, 'w');
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
    await this.syncDirectory();
    // From here the snapshot holds every logged change; emptying the log only saves replay time.
    try {
      await log.truncate(0);
      await log.datasync();
    } catch (err) {
      this.broken = err as Error;
      throw storeError('ERR_STORE_WRITE', `cannot empty ${join(this.dir, LOG)}: ${(err as Error).message}`, err);
    }
    this.logger.debug({ seq: this.lastSeq }, 'store compacted');
  }

  async close(): Promise<void> {
    await this.log?.close();
    this.log = undefined;
    if (lockedHere.delete(this.dir)) await rm(join(this.dir, LOCK), { force: true });
  }

  private writable(): FileHandle {
    if (this.broken) throw storeError('ERR_STORE_BROKEN', `store ${this.dir} failed earlier (${this.broken.message}); restart the manager`);
    if (!this.log) throw storeError('ERR_STORE_CLOSED', 'store is not loaded');
    return this.log;
  }

  /**
   * One manager per data directory: a second one would interleave log lines. The lock file names its owner
   * by pid, start time and boot id (data-lock.ts), so a dead owner's lock (a zombie not yet reaped, a pid
   * reused since, an earlier boot) is taken over at once, and only a live owner refuses.
   */
  private async lock(): Promise<void> {
    if (lockedHere.has(this.dir)) throw storeError('ERR_STORE_LOCKED', `${this.dir} is already used by this process`);
    const path = join(this.dir, LOCK);
    const owner = parseOwner(await readFile(path, 'utf8').catch(() => ''));
    if (owner && owner.pid !== process.pid && ownerAlive(owner)) {
      throw storeError('ERR_STORE_LOCKED', `${this.dir} is used by process ${owner.pid}`);
    }
    if (owner) this.logger.info({ dir: this.dir, previousOwner: owner.pid }, 'data directory lock taken over from a process that no longer runs');
    const file = await open(path, 'w');
    try {
      await file.writeFile(`${JSON.stringify(currentOwner())}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    lockedHere.add(this.dir);
  }

  private async readSnapshot(): Promise<{ state: DurableState; seq: number }> {
    const path = join(this.dir, SNAPSHOT);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { state: emptyDurableState(), seq: 0 };
      throw storeError('ERR_STORE_READ', `cannot read ${path}: ${(err as Error).message}`, err);
    }
    try {
      const data = JSON.parse(text) as { format?: unknown; seq?: unknown; state?: unknown };
      if (data.format !== FORMAT) throw new Error(`format ${String(data.format)} is not ${FORMAT}`);
      if (!Number.isInteger(data.seq)) throw new Error('seq is missing');
      return { state: fromSnapshot(data.state), seq: data.seq as number };
    } catch (err) {
      // Written atomically, so a bad snapshot is damage, not a crash: refuse rather than start empty.
      throw storeError('ERR_STORE_CORRUPT', `${path}: ${(err as Error).message}`, err);
    }
  }

  /** Applies the logged changes newer than the snapshot; cuts a torn tail off the file. */
  private async replayLog(state: DurableState, snapshotSeq: number): Promise<number> {
    const path = join(this.dir, LOG);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw storeError('ERR_STORE_READ', `cannot read ${path}: ${(err as Error).message}`, err);
    }
    const entries: Array<{ seq: number; change: Change }> = [];
    let offset = 0;
    let tornAt: number | undefined;
    let lineNumber = 0;
    while (offset < text.length) {
      lineNumber++;
      const end = text.indexOf('\n', offset);
      const line = end === -1 ? undefined : text.slice(offset, end);
      const entry = line === undefined ? undefined : parseEntry(line, path, lineNumber);
      if (entry === undefined) {
        tornAt ??= offset;
      } else if (tornAt !== undefined) {
        throw storeError('ERR_STORE_CORRUPT', `${path}: line ${lineNumber} follows a damaged line; the log is damaged in the middle`);
      } else {
        entries.push(entry);
      }
      offset = end === -1 ? text.length : end + 1;
    }
    if (tornAt !== undefined) {
      const bytes = Buffer.byteLength(text.slice(0, tornAt));
      this.logger.warn({ file: path, keptBytes: bytes }, 'dropping a torn last log entry (an unacknowledged write)');
      const file = await open(path, 'r+');
      try {
        await file.truncate(bytes);
        await file.sync();
      } finally {
        await file.close();
      }
    }
    let applied = 0;
    for (const { seq, change } of entries) {
      if (seq <= snapshotSeq) continue;
      if (seq !== this.lastSeq + 1) throw storeError('ERR_STORE_CORRUPT', `${path}: entry ${seq} follows ${this.lastSeq}`);
      applyChange(state, change);
      this.lastSeq = seq;
      applied++;
    }
    return applied;
  }

  private async syncDirectory(): Promise<void> {
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/** Undefined for a line that is not JSON (torn); a JSON line of the wrong shape is damage and throws. */
function parseEntry(line: string, path: string, lineNumber: number): { seq: number; change: Change } | undefined {
  let data: { seq?: unknown; change?: unknown };
  try {
    data = JSON.parse(line) as typeof data;
  } catch {
    return undefined;
  }
  try {
    if (!Number.isInteger(data.seq)) throw new Error('seq is missing');
    return { seq: data.seq as number, change: parseChange(data.change) };
  } catch (err) {
    throw storeError('ERR_STORE_CORRUPT', `${path}: line ${lineNumber}: ${(err as Error).message}`, err);
  }
}

