import type { BenchResult } from './harness.js';
import { hasUsableBaseline } from './report-format.js';

/** Whether a result meets its target. `unknown`: the target text is not one we parse, or there is nothing to compare. */
export interface TargetVerdict {
  status: 'met' | 'unmet' | 'unknown';
  target: string;
  /** Why the verdict is not a plain comparison, e.g. "no baseline to compare with". */
  note?: string;
}

// "ratio >= 0.5", "value <= 4096", "value ≤ 4096 bytes" (a trailing unit must be the result's own unit).
const TARGET_PATTERN = /^\s*(ratio|value)\s*(>=|<=|==|=|>|<|≥|≤)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?)\s*(.*?)\s*$/i;

const COMPARE: Record<string, (left: number, right: number) => boolean> = {
  '>=': (a, b) => a >= b, '≥': (a, b) => a >= b,
  '<=': (a, b) => a <= b, '≤': (a, b) => a <= b,
  '>': (a, b) => a > b, '<': (a, b) => a < b,
  '==': (a, b) => a === b, '=': (a, b) => a === b,
};

/** Undefined when the result has no target. */
export function evaluateTarget(result: BenchResult): TargetVerdict | undefined {
  const target = result.target?.trim();
  if (!target) return undefined;
  const match = TARGET_PATTERN.exec(target);
  if (!match) return { status: 'unknown', target };
  const [, subject, operator, bound, unit] = match;
  if (unit && unit !== result.unit.trim()) return { status: 'unknown', target, note: `unit "${unit}" is not the result's unit` };
  if (!Number.isFinite(result.value)) return { status: 'unmet', target, note: 'no value measured' };
  const isRatio = subject.toLowerCase() === 'ratio';
  if (isRatio && (!hasUsableBaseline(result.baselineValue) || !Number.isFinite(result.ratio))) {
    return { status: 'unknown', target, note: 'no baseline to compare with' };
  }
  const measured = isRatio ? result.ratio : result.value;
  return { status: COMPARE[operator](measured, Number(bound)) ? 'met' : 'unmet', target };
}
