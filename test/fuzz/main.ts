/**
 * `pnpm fuzz [--runs N] [--seed S] [TARGET…]`: every fuzz target with N generated inputs (default 100 000),
 * one after another; prints one line per target (inputs, time, heap and RSS before and after) and a JSON
 * summary, and exits non-zero when any property failed.
 */
import { targets } from './targets.js';

const args = process.argv.slice(2);
const option = (name: string) => {
  const at = args.indexOf(name);
  return at >= 0 ? args.splice(at, 2)[1] : undefined;
};
const runs = Number(option('--runs') ?? 100_000);
const seedText = option('--seed');
const seed = seedText === undefined ? Date.now() % 2 ** 31 : Number(seedText);
const chosen = args.length ? targets.filter((t) => args.some((name) => t.name.includes(name))) : targets;

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const summary: Array<Record<string, unknown>> = [];
let failed = 0;
for (const target of chosen) {
  global.gc?.();
  const before = process.memoryUsage();
  const started = performance.now();
  let error: string | undefined;
  try {
    await target.run(runs, seed);
  } catch (err) {
    error = (err as Error).message;
    failed++;
  }
  global.gc?.();
  const after = process.memoryUsage();
  const row = {
    target: target.name, inputs: runs, seconds: Math.round((performance.now() - started) / 100) / 10, crashes: error ? 1 : 0,
    heapMiB: [mib(before.heapUsed), mib(after.heapUsed)], rssMiB: [mib(before.rss), mib(after.rss)],
  };
  summary.push(row);
  process.stdout.write(`${error ? 'FAIL' : 'ok  '} ${target.name}: ${runs} inputs in ${row.seconds} s, heap ${row.heapMiB.join(' → ')} MiB, rss ${row.rssMiB.join(' → ')} MiB\n`);
  if (error) process.stdout.write(`${error}\n`);
}
process.stdout.write(`${JSON.stringify({ fuzz: summary, seed })}\n`);
process.stdout.write(`${chosen.length - failed} passed, ${failed} failed\n`);
process.exit(failed ? 1 : 0);
