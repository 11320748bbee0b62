import { monotonicNow, type Clock } from '@overlay/common';
import { ServiceModel, type ServiceModelOptions } from './capacity.js';

/** Runs the ServiceModel on real timers: each request is released when its modelled service ends. */
export class CapacityGate {
  private readonly model: ServiceModel<() => void>;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: ServiceModelOptions, private readonly now: Clock = monotonicNow) {
    this.model = new ServiceModel(options, now());
  }

  /** Calls `done` once this request's service has passed under the load of the moment; returns a cancel. */
  serve(done: () => void): () => void {
    const job = (): void => done(); // a fresh identity per request
    this.release(this.model.admit(job, this.now()));
    return () => this.release(this.model.cancel(job, this.now()));
  }

  get inService(): number {
    return this.model.inService;
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private release(finished: Array<() => void>): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const next = this.model.nextCompletionMs();
    if (next !== undefined) this.timer = setTimeout(() => this.release(this.model.advance(this.now())), Math.ceil(next));
    for (const done of finished) done();
  }
}
