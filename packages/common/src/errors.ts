/**
 * One base class for every error Overlay raises on purpose. The `code` is stable and documented
 * (docs/errors.md); callers branch on it, never on the message. `origin` says which side of a gateway
 * the fault came from and `retryable` whether the same work may be tried again elsewhere: exactly
 * what a gateway needs to decide on failover.
 */
export type ErrorOrigin = 'peer' | 'upstream' | 'downstream' | 'internal' | 'config';

export interface OverlayErrorOptions {
  origin?: ErrorOrigin;
  retryable?: boolean;
  cause?: unknown;
}

export class OverlayError extends Error {
  readonly code: string;
  readonly origin: ErrorOrigin;
  readonly retryable: boolean;

  constructor(code: string, message: string, options: OverlayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OverlayError';
    this.code = code;
    this.origin = options.origin ?? 'internal';
    this.retryable = options.retryable ?? false;
  }
}

/** A configuration file or API body that failed validation. */
export class ConfigError extends OverlayError {
  readonly file: string | undefined;
  readonly field: string;

  constructor(field: string, message: string, file?: string) {
    super('ERR_CONFIG', `${file ? `${file}: ` : ''}${field || '(root)'}: ${message}`, { origin: 'config' });
    this.name = 'ConfigError';
    this.file = file;
    this.field = field;
  }
}

/** Every problem of one config file or body at once: each is a ConfigError naming its field. */
export class ConfigErrors extends ConfigError {
  readonly problems: readonly ConfigError[];

  constructor(problems: readonly ConfigError[]) {
    const first = problems[0] ?? new ConfigError('', 'invalid');
    super(first.field, 'invalid', first.file);
    this.name = 'ConfigErrors';
    this.problems = problems.length ? problems : [first];
    // One line per problem, so a person sees them all and a script can count them.
    this.message = this.problems.map((problem) => problem.message).join('\n');
  }
}

/** The problems an error stands for: each of a ConfigErrors, else the error itself. */
export function configProblems(err: ConfigError): readonly ConfigError[] {
  return err instanceof ConfigErrors ? err.problems : [err];
}

export function errorCode(err: unknown): string {
  if (err instanceof OverlayError) return err.code;
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return 'ERR_UNKNOWN';
}

/**
 * An 'error' listener for emitters whose failures are read elsewhere (from `destroyed`/`errored`, or a
 * 'close'). Module-level on purpose: an inline `() => {}` keeps its whole enclosing scope (request heads,
 * messages) alive as long as the emitter, which for a WebSocket or TCP stream is its whole life.
 */
export function ignoreError(): void {}
