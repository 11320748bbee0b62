import type { ManagerState } from './feed-schema.js';

/** Where a patch puts a value: a top-level field (`["rings"]`), or one entry of a keyed section (`["sites", "shop"]`). */
export type PatchPath = [string] | [string, string];

/** The difference between two states, as the feed sends it: only what changed. */
export interface StatePatch {
  set: Array<[PatchPath, unknown]>;
  unset: PatchPath[];
}

/** Sections diffed entry by entry: a report from one gateway changes one entry, not the section. */
const KEYED_SECTIONS = new Set(['sites', 'frontEnds', 'backEnds']);

/**
 * What turns `before` into `after`: changed or new top-level fields and keyed entries are set whole, gone
 * ones unset. Entries are compared by their JSON, which is what the feed sends anyway.
 */
export function diffStates(before: ManagerState, after: ManagerState): StatePatch {
  const patch: StatePatch = { set: [], unset: [] };
  const was = before as unknown as Record<string, unknown>;
  const now = after as unknown as Record<string, unknown>;
  for (const field of new Set([...Object.keys(was), ...Object.keys(now)])) {
    if (!Object.hasOwn(now, field)) {
      patch.unset.push([field]);
    } else if (KEYED_SECTIONS.has(field) && Object.hasOwn(was, field)) {
      const old = was[field] as Record<string, unknown>;
      const current = now[field] as Record<string, unknown>;
      for (const key of Object.keys(old)) if (!Object.hasOwn(current, key)) patch.unset.push([field, key]);
      for (const [key, value] of Object.entries(current)) {
        if (!Object.hasOwn(old, key) || JSON.stringify(old[key]) !== JSON.stringify(value)) patch.set.push([[field, key], value]);
      }
    } else if (JSON.stringify(was[field]) !== JSON.stringify(now[field])) {
      patch.set.push([[field], now[field]]);
    }
  }
  return patch;
}

/**
 * `state` with `patch` applied, as a new object (the sections it touches are copied; `state` is left as it
 * was). Self-contained on purpose: the dashboard page runs this very function's source in the browser.
 */
export function applyStatePatch(state: object, patch: StatePatch): Record<string, unknown> {
  const next: Record<string, unknown> = { ...state };
  const copied = new Set<string>();
  const section = (field: string): Record<string, unknown> => {
    if (!copied.has(field)) {
      copied.add(field);
      next[field] = { ...(next[field] as Record<string, unknown> | undefined) };
    }
    return next[field] as Record<string, unknown>;
  };
  for (const path of patch.unset) {
    if (path.length === 1) delete next[path[0]];
    else delete section(path[0])[path[1]];
  }
  for (const [path, value] of patch.set) {
    if (path.length === 1) next[path[0]] = value;
    else section(path[0])[path[1]] = value;
  }
  return next;
}
