import { readFile } from 'node:fs/promises';

/** Linux's USER_HZ: /proc reports CPU time in these ticks (100 on every mainstream build). */
const TICKS_PER_SECOND = 100;

/** CPU time (user + system, every thread) a process has used so far, µs, from /proc/<pid>/stat. */
export async function processCpuMicros(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces and parentheses; fields after its last ')' are plain.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const [utime, stime] = [Number(fields[11]), Number(fields[12])];
  return ((utime + stime) * 1e6) / TICKS_PER_SECOND;
}

/** Runs `work` and returns its result with the CPU µs each of `pids` used meanwhile. */
export async function withCpu<T>(pids: readonly number[], work: () => Promise<T>): Promise<{ value: T; cpuMicros: number[] }> {
  const before = await Promise.all(pids.map(processCpuMicros));
  const value = await work();
  const after = await Promise.all(pids.map(processCpuMicros));
  return { value, cpuMicros: after.map((micros, i) => micros - before[i]) };
}
