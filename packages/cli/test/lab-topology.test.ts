import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { startProcess } from '@overlay/common';
import { defaultLabOptions, LAB_SYSTEM_LAYOUT, planLabTopology } from '@overlay/lab';
import { OVERLAY, overlay, requireCommand } from '../../../test/helpers.js';

const run = promisify(execFile);

function labNamespaces(id: string): string[] {
  const { stdout } = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return stdout.split('\n').map((line) => line.split(' ')[0] ?? '').filter((name) => name.startsWith(`ovl${id}-`));
}

test('the default topology is the demo lab: pop-a and pop-b, one back-end with the manager beside it', (t) => {
  const { layout, near, far } = planLabTopology();
  t.deepEqual(near, [...defaultLabOptions.near]);
  t.deepEqual(far, [...defaultLabOptions.far]);
  t.deepEqual(layout, LAB_SYSTEM_LAYOUT);
  t.deepEqual(layout.managers, [{ host: 'back-end', port: 7000 }]);
  t.deepEqual(layout.etcd, []);
});

test('more POPs, back-ends and managers get hosts of their own, and the managers an etcd member each', (t) => {
  const { layout, near, far } = planLabTopology({ pops: 4, backEnds: 2, managers: 3 });
  t.deepEqual(near, ['client', 'pop-a', 'pop-b', 'pop-c', 'pop-d']);
  t.deepEqual(far, ['back-end', 'back-end-2', 'manager-1', 'manager-2', 'manager-3', 'origin-1', 'origin-2']);
  t.deepEqual(layout.backEnds.map((backEnd) => backEnd.id), ['be-1', 'be-2']);
  t.deepEqual(layout.etcd.map((member) => member.host), ['manager-1', 'manager-2', 'manager-3']);
});

test('overlay lab refuses topology counts out of range, naming the option', async (t) => {
  for (const [flag, value] of [['--pops', '0'], ['--back-ends', '17'], ['--managers', '1.5']] as const) {
    const { code, stderr } = await overlay(['lab', flag, value]);
    t.is(code, 2, flag);
    t.regex(stderr, new RegExp(`lab option ${flag === '--pops' ? 'pops' : flag === '--back-ends' ? 'backEnds' : 'managers'}: must be an integer`), stderr);
  }
});

test.serial('overlay lab --pops 3 --back-ends 2 --managers 3 serves the site through every POP and both back-ends, on replicated managers', async (t) => {
  await requireCommand('etcd', 'etcd-server');
  await requireCommand('curl', 'curl');
  const lab = await startProcess(process.execPath, [OVERLAY, 'lab', '--pops', '3', '--back-ends', '2', '--managers', '3', '--delay-ms', '5'], { readyTimeoutMs: 90_000 });
  const id = String(lab.ready.lab);
  try {
    const frontEnds = lab.ready.frontEnds as Array<{ id: string; host: string; http: string }>;
    t.deepEqual(frontEnds.map((frontEnd) => frontEnd.id), ['pop-a', 'pop-b', 'pop-c']);
    t.deepEqual((lab.ready.backEnds as Array<{ id: string }>).map((backEnd) => backEnd.id), ['be-1', 'be-2']);
    t.is((lab.ready.managers as string[]).length, 3);
    const client = (lab.ready.hosts as Record<string, { namespace: string }>).client?.namespace as string;
    const backEndsSeen = new Set<string>();
    for (const frontEnd of frontEnds) {
      for (let attempt = 0; attempt < 6; attempt++) {
        const { stdout } = await run('ip', ['netns', 'exec', client, 'curl', '-s', '-o', '/dev/null', '-D', '-', '-H', `Host: ${String((lab.ready.sites as string[])[0])}`, `http://${frontEnd.http}/`]);
        t.regex(stdout, /^HTTP\/1\.1 200/, frontEnd.id);
        backEndsSeen.add(/x-overlay-backend: (\S+)/i.exec(stdout)?.[1] ?? '');
      }
    }
    t.deepEqual([...backEndsSeen].sort(), ['be-1', 'be-2'], 'both back-ends carry the site');
    // Every manager replica serves the API, with the gateways registered.
    const managerHost = (lab.ready.hosts as Record<string, { namespace: string }>)['manager-3']?.namespace as string;
    const { stdout } = await run('ip', ['netns', 'exec', managerHost, 'curl', '-s', '-H', `Authorization: Bearer ${String(lab.ready.token)}`, `${(lab.ready.managers as string[])[2]}/v1/front-ends`]);
    t.deepEqual(Object.keys((JSON.parse(stdout) as { frontEnds: object }).frontEnds).sort(), ['pop-a', 'pop-b', 'pop-c']);
  } finally {
    t.is(await lab.stop(20_000), 0);
  }
  t.deepEqual(labNamespaces(id), [], 'no namespace left');
});
