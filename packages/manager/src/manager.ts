import type { PriorityRules } from '@overlay/classifier';
import { monotonicNow, type Clock, type Logger } from '@overlay/common';
import { CapacityReactor, type CapacityDecision, type CapacityGateway, type CapacityView } from './capacity.js';
import type { ManagerConfig } from './config.js';
import { managerDefaults, managerLimits } from './defaults.js';
import { applyChange, GATEWAY_KINDS, KIND_LABEL, type Change, type DurableState, type GatewayKind, type GatewayRecord } from './durable.js';
import { ApiError, conflict, notFound, wrongRole } from './errors.js';
import type { Hello, ManagerRole, ManagerState, Report } from './feed-schema.js';
import { GatewayRuntime } from './gateway-runtime.js';
import type { ManagerMetrics } from './metrics.js';
import type { RingsBody, SiteBody } from './site-schema.js';
import { OriginBudgets } from './origin-budget.js';
import type { ZoneRecord } from './zone-records.js';
import { STORE_CONFLICT, type Store } from './store.js';
import { buildState, gatewaysView, ownedKinds, ownedSiteFields, ownsKind, prioritiesInForce, siteView } from './views.js';

export interface ManagerCoreOptions {
  config: ManagerConfig;
  store: Store;
  log: Logger;
  metrics: ManagerMetrics;
  /** Monotonic ms, for report timeouts and the capacity reaction. */
  clock?: Clock;
  /** Wall-clock ms since the epoch, for times shown to people. */
  wallClock?: () => number;
}

/** One capacity decision as applied, with its wall-clock time. */
export interface Decision extends CapacityDecision {
  time: string;
}

type ChangeListener = (immediate: boolean) => void;

/** Plans made again after a replicated store said another replica wrote first. */
const MAX_CONFLICT_RETRIES = 20;

/** What a write plans: the changes to store, and what to answer once they are applied. */
interface WritePlan<T> {
  changes: Change[];
  answer: () => T;
  /** Whether subscribers see a new version; default: when something was stored. */
  visible?: boolean;
}

/**
 * The manager's state and every way it changes. Writes run one at a time: planned against the
 * current state (so conflicts are checked without races), stored durably, then applied, then pushed.
 * Every visible change bumps the version; versions stay increasing across restarts because they
 * are leased from the store in large blocks (docs/manager.md "Versions").
 */
export class ManagerCore {
  readonly role: ManagerRole;
  private readonly runtime: GatewayRuntime;
  private readonly reactor: CapacityReactor;
  private readonly listeners = new Set<ChangeListener>();
  private readonly decisions: Decision[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly wallClock: () => number;
  private version: number;
  private writes: Promise<unknown> = Promise.resolve();
  private appendsSinceCompaction = 0;
  private leasing = false;
  private cached: { version: number; state: ManagerState } | undefined;
  /** The split of every origin's concurrency budget among its back-ends, recomputed with each state. */
  private readonly budgets = new OriginBudgets();
  private healthSignature = '';
  private closed = false;
  /** Whether this replica runs the capacity decisions: always, unless a replicated store elects another. */
  private leading = true;
  /** Passes reports on to the other replicas (a replicated store's `shareReports`). */
  private relay: ((kind: GatewayKind, id: string, report: Report) => void) | undefined;
  private evaluations = 0;

  private constructor(
    private readonly options: ManagerCoreOptions,
    private readonly durable: DurableState,
  ) {
    const { config } = options;
    const clock = options.clock ?? monotonicNow;
    this.role = config.role;
    this.wallClock = options.wallClock ?? Date.now;
    this.runtime = new GatewayRuntime(config.reportTimeoutMs, clock, this.wallClock);
    this.reactor = new CapacityReactor(config.capacity, clock);
    // Every version issued before a restart is below the stored ceiling.
    this.version = durable.versionCeiling;
    this.healthSignature = this.currentHealthSignature();
  }

  static async open(options: ManagerCoreOptions): Promise<ManagerCore> {
    const durable = await options.store.load();
    const core = new ManagerCore(options, durable);
    options.store.follow?.((change) => core.applyReplicated(change));
    core.relay = options.store.shareReports?.((kind, id, report) => core.receiveReport(kind, id, report));
    if (options.store.lead) {
      core.leading = false;
      options.store.lead((leader) => (core.leading = leader));
    }
    await core.extendLease();
    core.startTimers();
    core.updateGauges();
    return core;
  }

  get currentVersion(): number {
    return this.version;
  }

  /** Leadership and how many capacity evaluations this replica ran, for /healthz. */
  get leadership(): { leader: boolean; capacityEvaluations: number } {
    return { leader: this.leading, capacityEvaluations: this.evaluations };
  }

  /** Called after every visible change; `immediate` is false for report-driven ones, which may be gathered. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  state(): ManagerState {
    if (this.cached?.version !== this.version) {
      this.cached = { version: this.version, state: buildState(this.version, this.role, this.durable, this.runtime, this.budgets.split(this.durable, this.runtime)) };
    }
    return this.cached.state;
  }

  // ---- reads -------------------------------------------------------------------------------

  sites() {
    return Object.fromEntries([...this.durable.sites].map(([name, record]) => [name, siteView(record)]));
  }

  site(name: string) {
    return siteView(this.existingSite(name));
  }

  priorities(name: string): Required<PriorityRules> {
    this.requireKind('frontEnds', 'priority rules');
    return prioritiesInForce(this.existingSite(name));
  }

  rings(): RingsBody {
    this.requireKind('frontEnds', 'ring weights');
    return structuredClone(this.durable.rings);
  }

  /** The static records of one zone (empty when none were put). */
  zoneRecords(apex: string): { records: ZoneRecord[] } {
    this.requireKind('frontEnds', 'zone records');
    return { records: [...(this.durable.zoneRecords.get(apex) ?? [])] };
  }

  /** Replaces the static records of one zone; an empty list removes them. */
  putZoneRecords(apex: string, records: ZoneRecord[]): Promise<{ records: ZoneRecord[] }> {
    return this.write(() => {
      this.requireKind('frontEnds', 'zone records');
      return { changes: [{ op: 'putZoneRecords', apex, records }], answer: () => this.zoneRecords(apex) };
    });
  }

  gateways(kind: GatewayKind) {
    this.requireKind(kind, `${KIND_LABEL[kind]}s`);
    return gatewaysView(kind, this.durable, this.runtime);
  }

  recentDecisions(): readonly Decision[] {
    return this.decisions;
  }

  // ---- writes ------------------------------------------------------------------------------

  putSite(name: string, body: SiteBody): Promise<{ created: boolean; site: ReturnType<typeof siteView> }> {
    return this.write(() => {
      this.checkSiteConflicts(name, body);
      const created = !this.durable.sites.has(name);
      if (created && this.durable.sites.size >= managerLimits.maxSites) throw conflict(`at most ${managerLimits.maxSites} sites`);
      return {
        changes: [{ op: 'putSite', site: name, body: ownedSiteFields(this.role, body) }],
        answer: () => ({ created, site: this.site(name) }),
      };
    });
  }

  deleteSite(name: string): Promise<void> {
    return this.write(() => {
      this.existingSite(name);
      return { changes: [{ op: 'deleteSite', site: name }], answer: () => undefined };
    });
  }

  putPriorities(name: string, priorities: PriorityRules): Promise<Required<PriorityRules>> {
    return this.write(() => {
      this.requireKind('frontEnds', 'priority rules');
      this.existingSite(name);
      return { changes: [{ op: 'putPriorities', site: name, priorities }], answer: () => this.priorities(name) };
    });
  }

  putRings(rings: RingsBody): Promise<RingsBody> {
    return this.write(() => {
      this.requireKind('frontEnds', 'ring weights');
      return { changes: [{ op: 'putRings', ...rings }], answer: () => this.rings() };
    });
  }

  /** Forgets a gateway that is no longer connected (a connected one would register again at once). */
  deleteGateway(kind: GatewayKind, id: string): Promise<void> {
    return this.write(() => {
      this.requireKind(kind, `${KIND_LABEL[kind]}s`);
      if (!this.durable.gateways[kind].has(id)) throw notFound(`${KIND_LABEL[kind]} "${id}" is not registered`);
      if ((this.runtime.get(kind, id)?.connections ?? 0) > 0) throw conflict(`${KIND_LABEL[kind]} "${id}" is connected; stop it first`);
      return {
        changes: [{ op: 'deleteGateway', kind, id }],
        answer: () => this.runtime.forget(kind, id),
      };
    });
  }

  // ---- feed --------------------------------------------------------------------------------

  /** Whether subscribers of this hello role are gateways this manager registers. */
  registers(role: Hello['role']): GatewayKind | undefined {
    const kind: GatewayKind | undefined = role === 'front-end' ? 'frontEnds' : role === 'back-end' ? 'backEnds' : undefined;
    return kind !== undefined && ownsKind(this.role, kind) ? kind : undefined;
  }

  /** Registers (or updates) a gateway from its hello; it counts as alive from now on. */
  connectGateway(kind: GatewayKind, hello: Hello): Promise<void> {
    return this.write(() => {
      const known = this.durable.gateways[kind].get(hello.id);
      if (!known && this.durable.gateways[kind].size >= managerLimits.maxGateways) {
        throw new ApiError(409, 'too_many_gateways', `at most ${managerLimits.maxGateways} ${KIND_LABEL[kind]}s`);
      }
      const record: GatewayRecord = {
        ...(hello.pop === undefined ? {} : { pop: hello.pop }),
        addresses: hello.addresses,
        ...(hello.tunnelTls ? { tunnelTls: true } : {}),
      };
      const same = known !== undefined && JSON.stringify(known) === JSON.stringify(record);
      return {
        changes: same ? [] : [{ op: 'putGateway', kind, id: hello.id, record }],
        answer: () => this.runtime.connected(kind, hello.id),
        visible: true,
      };
    });
  }

  gatewayDisconnected(kind: GatewayKind, id: string): void {
    this.runtime.disconnected(kind, id);
  }

  report(kind: GatewayKind, id: string, report: Report): void {
    if (this.receiveReport(kind, id, report)) this.relay?.(kind, id, report);
  }

  /** Takes a report, from a gateway here or relayed by another replica; false for an unregistered gateway. */
  private receiveReport(kind: GatewayKind, id: string, report: Report): boolean {
    if (!this.durable.gateways[kind].has(id)) return false;
    this.runtime.report(kind, id, report);
    this.options.metrics.reports.inc({ kind: KIND_LABEL[kind] });
    this.changed(false);
    return true;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.writes;
    try {
      await this.options.store.compact(this.durable);
    } catch (err) {
      this.options.log.warn({ err }, 'could not fold the change log on close; it will be replayed on start');
    }
    await this.options.store.close();
  }

  // ---- internals ---------------------------------------------------------------------------

  /** A change another replica stored (a replicated store's `follow`): applied and pushed like our own. */
  private applyReplicated(change: Change): void {
    applyChange(this.durable, change);
    if (change.op !== 'leaseVersions') this.changed(true);
  }

  private write<T>(plan: () => WritePlan<T>): Promise<T> {
    const run = async (): Promise<T> => {
      for (let attempt = 1; ; attempt++) {
        if (this.closed) throw new ApiError(503, 'closing', 'the manager is shutting down');
        const { changes, answer, visible = changes.length > 0 } = plan();
        try {
          for (const change of changes) await this.commit(change);
        } catch (err) {
          // Another replica wrote first; its changes are applied now, so plan again against them.
          if ((err as { code?: unknown }).code === STORE_CONFLICT && attempt < MAX_CONFLICT_RETRIES) continue;
          throw err;
        }
        const result = answer();
        if (visible) this.changed(true);
        return result;
      }
    };
    const result = this.writes.then(run, run);
    this.writes = result.catch(() => undefined);
    return result;
  }

  private async commit(change: Change): Promise<void> {
    const { store, metrics, log, config } = this.options;
    const stop = metrics.storeWriteSeconds.startTimer();
    await store.append(change);
    stop();
    applyChange(this.durable, change);
    if (++this.appendsSinceCompaction < config.store.compactEvery) return;
    this.appendsSinceCompaction = 0;
    try {
      await store.compact(this.durable);
      metrics.compactions.inc();
    } catch (err) {
      // The change itself is durable in the log; only the folding failed.
      log.error({ err }, 'store compaction failed');
    }
  }

  private changed(immediate: boolean): void {
    this.version++;
    this.healthSignature = this.currentHealthSignature();
    this.options.metrics.version.set(this.version);
    if (this.version >= this.durable.versionCeiling - managerDefaults.versionLease / 2 && !this.leasing) {
      void this.extendLease().catch((err: unknown) => this.options.log.error({ err }, 'cannot lease versions'));
    }
    this.updateGauges();
    for (const listener of this.listeners) listener(immediate);
  }

  /** Reserves the next block of versions durably, so none is issued twice across a restart. */
  private async extendLease(): Promise<void> {
    this.leasing = true;
    try {
      await this.write(() => ({ changes: [{ op: 'leaseVersions', ceiling: this.version + managerDefaults.versionLease }], answer: () => undefined, visible: false }));
    } finally {
      this.leasing = false;
    }
  }

  private startTimers(): void {
    const { config } = this.options;
    const healthEvery = Math.max(50, Math.min(1000, Math.floor(config.reportTimeoutMs / 4)));
    this.timers.push(setInterval(() => this.checkHealth(), healthEvery).unref());
    if (config.capacity.enabled) {
      let reacting: Promise<void> | undefined;
      const react = () => {
        // One reaction at a time: the next looks at the state the previous one's writes left.
        reacting ??= this.reactToCapacity()
          .catch((err: unknown) => this.options.log.error({ err }, 'capacity reaction failed'))
          .finally(() => (reacting = undefined));
      };
      this.timers.push(setInterval(react, config.capacity.intervalMs).unref());
    }
  }

  /** Pushes a change when a gateway crossed the report timeout (a silent one goes down without any event). */
  private checkHealth(): void {
    const signature = this.currentHealthSignature();
    if (signature === this.healthSignature) return;
    const [frontEnds, backEnds] = signature.split('|');
    this.options.log.info({ healthyFrontEnds: frontEnds, healthyBackEnds: backEnds }, 'gateway health changed');
    this.changed(true);
  }

  private currentHealthSignature(): string {
    return GATEWAY_KINDS.map((kind) => [...this.durable.gateways[kind].keys()].filter((id) => this.runtime.isHealthy(kind, id)).sort().join(',')).join('|');
  }

  private capacityView(): CapacityView {
    const gateways = (kind: GatewayKind) =>
      new Map<string, CapacityGateway>(
        [...this.durable.gateways[kind].keys()].map((id) => {
          const live = this.runtime.get(kind, id);
          return [id, { healthy: this.runtime.isHealthy(kind, id), load: live?.load ?? 0, tunnels: live?.tunnels ?? [] }];
        }),
      );
    return {
      sites: [...this.durable.sites].map(([name, record]) => ({
        name,
        qosTarget: record.body.qosTarget,
        configured: { frontEnds: record.body.frontEnds, backEnds: record.body.backEnds },
        auto: record.auto,
      })),
      gateways: { frontEnds: gateways('frontEnds'), backEnds: gateways('backEnds') },
      kinds: ownedKinds(this.role),
    };
  }

  private async reactToCapacity(): Promise<void> {
    // One decider per cluster: replicas that are not leading leave it to the leader.
    if (!this.leading) return;
    this.evaluations++;
    const decisions = this.reactor.evaluate(this.capacityView());
    if (decisions.length === 0) return;
    await this.write(() => {
      const changes: Change[] = [];
      const applied: CapacityDecision[] = [];
      for (const decision of decisions) {
        const record = this.durable.sites.get(decision.site);
        if (!record) continue;
        const pending = changes.findLast((change) => change.op === 'setAuto' && change.site === decision.site && change.kind === decision.kind);
        const current = pending?.op === 'setAuto' ? pending.ids : record.auto[decision.kind];
        // The site may have changed since the reactor looked: skip what no longer applies.
        const assigned = current.includes(decision.gateway) || record.body[decision.kind].includes(decision.gateway);
        if (decision.action === 'assign' ? assigned : !current.includes(decision.gateway)) continue;
        const ids = decision.action === 'assign' ? [...current, decision.gateway] : current.filter((id) => id !== decision.gateway);
        changes.push({ op: 'setAuto', site: decision.site, kind: decision.kind, ids });
        applied.push(decision);
      }
      return { changes, answer: () => applied.forEach((decision) => this.recordDecision(decision)) };
    });
  }

  private recordDecision(decision: CapacityDecision): void {
    const entry: Decision = { ...decision, time: new Date(this.wallClock()).toISOString() };
    this.decisions.push(entry);
    if (this.decisions.length > managerDefaults.decisionsKept) this.decisions.shift();
    this.options.metrics.capacityDecisions.inc({ action: decision.action });
    this.options.log.info({ decision: entry }, `capacity: ${decision.action} ${KIND_LABEL[decision.kind]} ${decision.gateway} for ${decision.site}`);
  }

  private existingSite(name: string) {
    const record = this.durable.sites.get(name);
    if (!record) throw notFound(`site "${name}" does not exist`);
    return record;
  }

  private requireKind(kind: GatewayKind, what: string): void {
    if (!ownsKind(this.role, kind)) throw wrongRole(`a ${this.role} manager does not hold ${what}; ask the ${KIND_LABEL[kind]} manager`);
  }

  /** A domain or a TCP listener belongs to one site only. */
  private checkSiteConflicts(name: string, body: SiteBody): void {
    for (const [other, record] of this.durable.sites) {
      if (other === name) continue;
      body.domains.forEach((domain, index) => {
        if (record.body.domains.includes(domain)) throw conflict(`domains[${index}]: "${domain}" already belongs to site "${other}"`);
      });
      if (body.listen !== undefined && record.body.listen === body.listen && ownsKind(this.role, 'frontEnds')) {
        throw conflict(`listen: ${body.listen} is already used by site "${other}"`);
      }
    }
  }

  private updateGauges(): void {
    const { metrics } = this.options;
    metrics.sites.set(this.durable.sites.size);
    for (const kind of GATEWAY_KINDS) {
      const ids = [...this.durable.gateways[kind].keys()];
      const up = ids.filter((id) => this.runtime.isHealthy(kind, id)).length;
      metrics.gateways.set({ kind: KIND_LABEL[kind], health: 'up' }, up);
      metrics.gateways.set({ kind: KIND_LABEL[kind], health: 'down' }, ids.length - up);
    }
  }
}
