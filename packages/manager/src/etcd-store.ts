import { randomUUID } from 'node:crypto';
import { Etcd3, Range, type Campaign, type IKeyValue, type Namespace, type Watcher } from 'etcd3';
import { OverlayError, silentLogger, type Logger } from '@overlay/common';
import type { EtcdSettings } from './config.js';
import { applyChange, emptyDurableState, fromSnapshot, parseChange, toSnapshot, type Change, type DurableState, type GatewayKind } from './durable.js';
import { reportSchema } from './feed-schema.js';
import { gatewayIdSchema } from './names.js';
import { STORE_CONFLICT, type ReportListener, type Store } from './store.js';

const HEAD = 'head';
const SNAPSHOT = 'snapshot';
const CHANGES = 'changes/';
const LEADER = 'leader';
/** `live/<kind>/<id>`: the latest report of each gateway, from whichever replica it talks to. */
const LIVE = 'live/';
const KINDS: ReadonlySet<string> = new Set<GatewayKind>(['frontEnds', 'backEnds']);
const FORMAT = 1;
/** Changes kept behind a snapshot, so a replica that fell behind catches up from the log, not a reload. */
const KEEP_BEHIND_SNAPSHOT = 10_000;
const SEQ_DIGITS = 16;

const changeKey = (seq: number) => `${CHANGES}${String(seq).padStart(SEQ_DIGITS, '0')}`;
const seqOf = (key: string) => Number(key.slice(CHANGES.length));

function storeError(code: string, message: string, options: { cause?: unknown; retryable?: boolean } = {}): OverlayError {
  return new OverlayError(code, message, { origin: 'internal', ...options });
}

/**
 * The manager's store on an etcd cluster, shared by every replica. Changes are numbered: an append is a
 * transaction that writes change `n+1` only while the head is still `n`, so replicas agree on one order
 * and a replica that planned against an old state is told (`ERR_STORE_CONFLICT`, after it caught up) and
 * plans again. Every replica watches the log and hands the others' changes to `follow`. A snapshot now and
 * then lets a starting replica skip most of the log. `lead` campaigns in an etcd election: the leader
 * runs the capacity decisions; its lease lapses `leaderTtlS` after it dies, and another replica takes over.
 */
export class EtcdStore implements Store {
  private readonly client: Etcd3;
  private readonly root: Namespace;
  private lastSeq = 0;
  private watcher: Watcher | undefined;
  private follower: ((change: Change) => void) | undefined;
  /** Watched changes not handed over yet: while an append is in flight, or before `follow` is called. */
  private held = new Map<number, Change>();
  private appending = false;
  private campaign: Campaign | undefined;
  private liveWatcher: Watcher | undefined;
  private closed = false;
  /** This replica among others (their config ids may be equal): the campaign's value, a report's sender. */
  private readonly instance: string;

  constructor(
    private readonly settings: EtcdSettings,
    id: string,
    private readonly log: Logger = silentLogger,
  ) {
    this.instance = `${id}-${randomUUID().slice(0, 8)}`;
    this.client = new Etcd3({ hosts: settings.endpoints, dialTimeout: settings.dialTimeoutMs });
    this.root = this.client.namespace(`${settings.prefix.replace(/\/$/, '')}/`);
  }

  async load(): Promise<DurableState> {
    let range;
    try {
      range = await this.root.getAll().prefix('').exec();
    } catch (err) {
      throw storeError('ERR_STORE_READ', `cannot read from etcd at ${this.settings.endpoints.join(', ')}: ${(err as Error).message}`, { cause: err });
    }
    const byKey = new Map(range.kvs.map((kv) => [kv.key.toString(), kv.value.toString()]));
    let state = emptyDurableState();
    const snapshot = byKey.get(SNAPSHOT);
    if (snapshot !== undefined) {
      try {
        const data = JSON.parse(snapshot) as { format?: unknown; seq?: unknown; state?: unknown };
        if (data.format !== FORMAT || !Number.isInteger(data.seq)) throw new Error(`format ${String(data.format)}, seq ${String(data.seq)}`);
        state = fromSnapshot(data.state);
        this.lastSeq = data.seq as number;
      } catch (err) {
        throw storeError('ERR_STORE_CORRUPT', `etcd key ${SNAPSHOT}: ${(err as Error).message}`, { cause: err });
      }
    }
    const changes = [...byKey].filter(([key]) => key.startsWith(CHANGES)).map(([key, value]) => ({ seq: seqOf(key), value })).sort((a, b) => a.seq - b.seq);
    let replayed = 0;
    for (const { seq, value } of changes) {
      if (seq <= this.lastSeq) continue;
      if (seq !== this.lastSeq + 1) throw storeError('ERR_STORE_CORRUPT', `etcd change ${seq} follows ${this.lastSeq}`);
      applyChange(state, this.parse(seq, value));
      this.lastSeq = seq;
      replayed++;
    }
    this.watcher = await this.root
      .watch()
      .prefix(CHANGES)
      .startRevision(String(Number(range.header.revision) + 1))
      .create();
    this.watcher.on('put', (kv: IKeyValue) => this.watched(kv));
    this.watcher.on('disconnected', (err: Error) => this.log.warn({ reason: err.message }, 'etcd watch lost; resuming'));
    this.log.info({ endpoints: this.settings.endpoints, prefix: this.settings.prefix, lastSeq: this.lastSeq, replayed }, 'store loaded from etcd');
    return state;
  }

  follow(apply: (change: Change) => void): void {
    this.follower = apply;
    this.handOver();
  }

  async append(change: Change): Promise<void> {
    if (this.closed) throw storeError('ERR_STORE_CLOSED', 'store is closed');
    this.appending = true;
    try {
      const seq = this.lastSeq + 1;
      const result = await this.atHead()
        .then(this.root.put(HEAD).value(String(seq)), this.root.put(changeKey(seq)).value(JSON.stringify(change)))
        .commit()
        .catch((err: unknown) => {
          throw storeError('ERR_STORE_WRITE', `cannot append to etcd: ${(err as Error).message}`, { cause: err, retryable: true });
        });
      if (result.succeeded) {
        this.lastSeq = seq;
        return;
      }
      // Another replica appended first: take its changes now, so the manager plans again on them.
      await this.catchUp();
      throw storeError(STORE_CONFLICT, 'another manager replica wrote first', { retryable: true });
    } finally {
      this.appending = false;
      this.handOver();
    }
  }

  async compact(state: DurableState): Promise<void> {
    const seq = this.lastSeq;
    const text = JSON.stringify({ format: FORMAT, seq, state: toSnapshot(state) });
    const deleteOld = seq > KEEP_BEHIND_SNAPSHOT ? [this.root.delete().range(new Range(changeKey(0), changeKey(seq - KEEP_BEHIND_SNAPSHOT + 1)))] : [];
    // Only a replica that holds the latest change writes the snapshot; a stale one would hide others' changes.
    const result = await this.atHead().then(this.root.put(SNAPSHOT).value(text), ...deleteOld).commit();
    this.log.debug({ seq, written: result.succeeded }, 'store compacted');
  }

  lead(onLeader: (leader: boolean) => void): void {
    const election = this.root.election(LEADER, this.settings.leaderTtlS);
    const campaign = () => {
      if (this.closed) return;
      const current = election.campaign(this.instance);
      this.campaign = current;
      current.on('elected', () => {
        this.log.info({ instance: this.instance }, 'elected leader: running the capacity decisions');
        onLeader(true);
      });
      current.on('error', (err: Error) => {
        onLeader(false);
        if (this.closed) return;
        this.log.warn({ reason: err.message }, 'leader campaign failed; campaigning again');
        setTimeout(campaign, 1_000).unref();
      });
    };
    campaign();
  }

  shareReports(onReport: ReportListener): ReportListener {
    void this.root
      .watch()
      .prefix(LIVE)
      .create()
      .then((watcher) => {
        this.liveWatcher = watcher;
        watcher.on('put', (kv: IKeyValue) => {
          const [kind, id] = kv.key.toString().slice(LIVE.length).split('/');
          try {
            const data = JSON.parse(kv.value.toString()) as { from?: unknown; report?: unknown };
            if (data.from === this.instance || !KINDS.has(kind as string)) return;
            onReport(kind as GatewayKind, gatewayIdSchema.parse(id), reportSchema.parse(data.report));
          } catch (err) {
            this.log.warn({ key: kv.key.toString(), reason: (err as Error).message }, 'ignoring a damaged relayed report');
          }
        });
      }, (err: unknown) => this.log.error({ err }, 'cannot watch relayed reports'));
    return (kind, id, report) => {
      if (this.closed) return;
      this.root.put(`${LIVE}${kind}/${id}`).value(JSON.stringify({ from: this.instance, report })).exec().catch((err: unknown) => {
        this.log.debug({ reason: (err as Error).message }, 'report not relayed');
      });
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.campaign?.resign(), this.watcher?.cancel(), this.liveWatcher?.cancel()]);
    this.client.close();
  }

  /** A transaction that goes through only while this replica holds the latest change. */
  private atHead() {
    return this.lastSeq === 0 ? this.root.if(HEAD, 'Create', '==', 0) : this.root.if(HEAD, 'Value', '==', String(this.lastSeq));
  }

  private parse(seq: number, value: string): Change {
    try {
      return parseChange(JSON.parse(value));
    } catch (err) {
      throw storeError('ERR_STORE_CORRUPT', `etcd change ${seq}: ${(err as Error).message}`, { cause: err });
    }
  }

  private watched(kv: IKeyValue): void {
    const seq = seqOf(kv.key.toString());
    if (seq <= this.lastSeq) return;
    try {
      this.held.set(seq, this.parse(seq, kv.value.toString()));
    } catch (err) {
      this.log.error({ err }, 'skipping a damaged change from etcd');
      return;
    }
    this.handOver();
  }

  /** Hands the held changes over in order, as long as no append is in flight (it may be one of them). */
  private handOver(): void {
    if (this.appending || !this.follower) return;
    for (const seq of [...this.held.keys()].sort((a, b) => a - b)) {
      if (seq > this.lastSeq + 1) break;
      const change = this.held.get(seq) as Change;
      this.held.delete(seq);
      if (seq <= this.lastSeq) continue;
      this.lastSeq = seq;
      this.follower(change);
    }
  }

  /** Reads the changes after the last one this replica has, and hands them over before anything else. */
  private async catchUp(): Promise<void> {
    const range = await this.root.getAll().inRange(new Range(changeKey(this.lastSeq + 1), `${CHANGES}~`)).exec();
    for (const kv of range.kvs) {
      const seq = seqOf(kv.key.toString());
      if (!this.held.has(seq)) this.held.set(seq, this.parse(seq, kv.value.toString()));
    }
    if (this.held.size && !this.held.has(this.lastSeq + 1)) {
      throw storeError('ERR_STORE_BEHIND', `this replica is more than ${KEEP_BEHIND_SNAPSHOT} changes behind; restart it`);
    }
    this.appending = false;
    this.handOver();
  }
}
