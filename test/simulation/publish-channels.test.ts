/**
 * Publish is all-or-nothing for consumers (issue 9, item 4), in the simulation: the real state machine and handlers,
 * simulated AWS, virtual time. A publish channel (snapshot-id parameter, result parameter, `Snapshot Ready` event)
 * that fails is retried; past the retries the execution fails saying what consumers see, and the next run with the
 * same images republishes what is missing (status REPUBLISHED, nothing launched), then says UP_TO_DATE.
 */
import { NO_LEFTOVERS } from '../../simulation/after-execution';
import { describe, expect, it } from 'vitest';
import { decodeDigestRecord } from '../../functions/lib/current-snapshot';
import { createSimulatedAccount, type SimulatedAccount } from '../../simulation/aws/account';
import { FAULTS } from '../../simulation/aws/core';
import { loadDefinition, runSimulation, type SimulationReport } from '../../simulation/run-state-machine';
import { SimulatedRegistries } from '../../simulation/registries';

const NGINX = 'public.ecr.aws/docker/library/nginx:1.27';
const REDIS = 'redis:7';
const RECIPE = 'web';

const transientRetrier = (loadDefinition().States.PublishSnapshot.Retry as { ErrorEquals: string[]; MaxAttempts: number }[]).find((r) => r.ErrorEquals.includes('TransientAwsError'))!;

interface Output {
  status: string;
  snapshots?: { snapshotId: string; architecture: string; eventId?: string }[];
  republished?: { snapshotId: string; channels: string[] }[];
}

const setUp = () => {
  const account = createSimulatedAccount();
  const registries = new SimulatedRegistries();
  registries.push(NGINX, { seed: 'nginx-1' });
  registries.push(REDIS, { seed: 'redis-1' });
  return { account, registries };
};

const run = (account: SimulatedAccount, registries: SimulatedRegistries, executionName: string, startTime: number, architectures = ['x86_64']) =>
  runSimulation({ input: { recipe: RECIPE, images: [NGINX, REDIS], architectures }, account, registries, executionName, startTime });

const parameter = (account: SimulatedAccount, architecture: string, name: 'snapshot-id' | 'digest-set') =>
  account.parameters.parameters.get(`/snapshot-factory/${RECIPE}/${architecture}/${name}`)?.Value;
const record = (account: SimulatedAccount, architecture: string) => decodeDigestRecord(parameter(account, architecture, 'digest-set'));
const readyEvents = (account: SimulatedAccount) => account.events.ofType('Snapshot Ready').map((e) => ({ id: e.id, ...(e.detail as { snapshotId: string; redelivered?: boolean }) }));
const launches = (account: SimulatedAccount) => account.core.callsOf('ec2', 'RunInstances').length;
const tagOf = (account: SimulatedAccount, snapshotId: string, key: string) => account.ec2.snapshots.get(snapshotId)?.Tags.find((t) => t.Key === key)?.Value;

/** No builder left, no snapshot in error, and every snapshot kept is one a snapshot-id parameter names (no orphan). */
const expectNothingLeft = (report: SimulationReport, account: SimulatedAccount) => {
  expect(report.leftovers).toEqual(NO_LEFTOVERS);
  const named = new Set([...account.parameters.parameters].filter(([name]) => name.endsWith('/snapshot-id')).map(([, p]) => p.Value));
  expect(account.ec2.liveSnapshots().map((s) => s.SnapshotId).filter((id) => !named.has(id))).toEqual([]);
};

/** Every channel names `snapshotId` for `architecture`: parameter, record (nothing pending), tag, the event. */
const expectChannelsAgree = (account: SimulatedAccount, architecture: string, snapshotId: string) => {
  expect(parameter(account, architecture, 'snapshot-id')).toBe(snapshotId);
  const current = record(account, architecture)!;
  expect(current).toMatchObject({ snapshotId, pending: [] });
  expect(tagOf(account, snapshotId, 'snapshot-factory:digest-set')).toBe(current.digestSet);
  const events = readyEvents(account).filter((e) => e.snapshotId === snapshotId);
  expect(events.length).toBeGreaterThan(0);
  expect(events.map((e) => e.id)).toContain(current.eventId);
};

describe('publish: every consumer channel agrees, a failed one is redelivered', () => {
  it('PutEvents throttled within the retries: SUCCEEDED, every channel names the new snapshot', async () => {
    // Prepare
    const { account, registries } = setUp();
    account.core.inject(FAULTS.throttle('events', 'PutEvents', 2));

    // Act
    const report = await run(account, registries, 'throttled-within', Date.UTC(2026, 11, 1, 3));

    // Assess
    expect(report.status, report.cause).toBe('SUCCEEDED');
    const output = report.output as Output;
    expect(output.status).toBe('BUILT');
    const [snapshot] = output.snapshots!;
    expectChannelsAgree(account, 'x86_64', snapshot!.snapshotId);
    expect(snapshot!.eventId).toBe(record(account, 'x86_64')!.eventId);
    expect(report.events.some((e) => e.type === 'StateRetried' && e.state === 'PublishSnapshot')).toBe(true);
    expectNothingLeft(report, account);
  });

  it('PutEvents failing past the retries: FAILED saying what consumers see; the next run redelivers the event without building, then UP_TO_DATE', async () => {
    // Prepare
    const { account, registries } = setUp();
    const removeFault = account.core.inject(FAULTS.throttle('events', 'PutEvents', transientRetrier.MaxAttempts + 1));

    // Act
    const failed = await run(account, registries, 'events-down', Date.UTC(2026, 11, 1, 3));
    removeFault();

    // Assess: the parameters name the new snapshot, the event was not sent, and the cause says both.
    expect({ status: failed.status, error: failed.error }).toEqual({ status: 'FAILED', error: 'TransientAwsError' });
    const snapshotId = parameter(account, 'x86_64', 'snapshot-id')!;
    expect(snapshotId).toMatch(/^snap-/);
    expect(record(account, 'x86_64')).toMatchObject({ snapshotId, pending: ['event'] });
    expect(readyEvents(account)).toEqual([]);
    expect(failed.cause).toContain(`/snapshot-factory/${RECIPE}/x86_64/snapshot-id = ${snapshotId}`);
    expect(failed.cause).toContain('REPUBLISH');
    expectNothingLeft(failed, account);

    // Act: the next nightly run, same images.
    const launchesBefore = launches(account);
    const republished = await run(account, registries, 'events-back', failed.endedAt + 3_600_000);

    // Assess: nothing built, the event sent once, marked as a redelivery; every channel agrees.
    expect(republished.status, republished.cause).toBe('SUCCEEDED');
    expect(republished.output).toMatchObject({ status: 'REPUBLISHED', republished: [{ snapshotId, channels: ['event'] }] });
    expect(launches(account)).toBe(launchesBefore);
    expect(readyEvents(account)).toEqual([expect.objectContaining({ snapshotId, redelivered: true })]);
    expectChannelsAgree(account, 'x86_64', snapshotId);
    expectNothingLeft(republished, account);

    // Act: and the run after that.
    const third = await run(account, registries, 'events-settled', republished.endedAt + 3_600_000);

    // Assess
    expect(third.output).toMatchObject({ status: 'UP_TO_DATE', current: [{ snapshotId }] });
    expect(readyEvents(account)).toHaveLength(1);
  });

  it('the snapshot-id parameter write failing past the retries: consumers keep nothing new, the next run writes it and announces it', async () => {
    // Prepare: only writes of the consumer parameter fail; the ledger (digest-set record) is written.
    const { account, registries } = setUp();
    const removeFault = account.core.inject({
      ...FAULTS.throttle('ssm', 'PutParameter', Infinity),
      when: (input) => String((input as { Name?: string }).Name).endsWith('/snapshot-id'),
    });

    // Act
    const failed = await run(account, registries, 'param-down', Date.UTC(2026, 11, 1, 3));
    removeFault();

    // Assess: no consumer channel names the snapshot; the ledger lists every channel.
    expect({ status: failed.status, error: failed.error }).toEqual({ status: 'FAILED', error: 'TransientAwsError' });
    expect(parameter(account, 'x86_64', 'snapshot-id')).toBeUndefined();
    expect(readyEvents(account)).toEqual([]);
    const pending = record(account, 'x86_64')!;
    expect(pending.pending).toEqual(['snapshot-id', 'result-parameters', 'event']);
    expect(failed.cause).toContain(`tags on ${pending.snapshotId}`);

    // Act
    const launchesBefore = launches(account);
    const republished = await run(account, registries, 'param-back', failed.endedAt + 3_600_000);

    // Assess
    expect(republished.status, republished.cause).toBe('SUCCEEDED');
    expect(republished.output).toMatchObject({ status: 'REPUBLISHED', republished: [{ snapshotId: pending.snapshotId, channels: ['snapshot-id', 'result-parameters', 'event'] }] });
    expect(launches(account)).toBe(launchesBefore);
    expectChannelsAgree(account, 'x86_64', pending.snapshotId);
    expectNothingLeft(republished, account);

    const third = await run(account, registries, 'param-settled', republished.endedAt + 3_600_000);
    expect(third.output).toMatchObject({ status: 'UP_TO_DATE' });
  });

  it('a parameter write throttled within the retries: SUCCEEDED, every channel agrees', async () => {
    // Prepare
    const { account, registries } = setUp();
    account.core.inject({ ...FAULTS.throttle('ssm', 'PutParameter', 2), when: (input) => String((input as { Name?: string }).Name).endsWith('/snapshot-id') });

    // Act
    const report = await run(account, registries, 'param-throttled', Date.UTC(2026, 11, 1, 3));

    // Assess
    expect(report.status, report.cause).toBe('SUCCEEDED');
    expectChannelsAgree(account, 'x86_64', (report.output as Output).snapshots![0]!.snapshotId);
    expectNothingLeft(report, account);
  });

  it('PutEvents answering 200 with a retryable failed entry: retried, SUCCEEDED', async () => {
    // Prepare
    const { account, registries } = setUp();
    account.events.failEntries('ThrottlingException', 2);

    // Act
    const report = await run(account, registries, 'entry-throttled', Date.UTC(2026, 11, 1, 3));

    // Assess
    expect(report.status, report.cause).toBe('SUCCEEDED');
    expect(account.core.callsOf('events', 'PutEvents')).toHaveLength(3);
    expectChannelsAgree(account, 'x86_64', (report.output as Output).snapshots![0]!.snapshotId);
    expectNothingLeft(report, account);
  });

  it('PutEvents answering 200 with a terminal failed entry for one of two snapshots: FAILED at once; the next run announces only that one', async () => {
    // Prepare: the call's first entry is refused, the second accepted.
    const { account, registries } = setUp();
    const undo = account.events.failEntries('NotAuthorizedForSourceException', 1);

    // Act
    const failed = await runSimulation({
      input: { recipe: RECIPE, images: [NGINX, REDIS], architectures: ['x86_64', 'arm64'] },
      account,
      registries,
      executionName: 'entry-refused',
      startTime: Date.UTC(2026, 11, 1, 3),
    });
    undo();

    // Assess: a terminal entry failure is not retried; the accepted event's ledger is complete, the other's is not.
    expect({ status: failed.status, error: failed.error }).toEqual({ status: 'FAILED', error: 'AwsRequestError' });
    expect(failed.cause).toContain('NotAuthorizedForSourceException');
    // PublishSnapshot's one call; the failed execution's Snapshot Build Failed event (notify-build-failure) is another.
    const readyCalls = account.core.callsOf('events', 'PutEvents').filter((c) => (c.input as { Entries: { DetailType: string }[] }).Entries.some((e) => e.DetailType === 'Snapshot Ready'));
    expect(readyCalls).toHaveLength(1);
    expect(account.events.ofType('Snapshot Build Failed')).toHaveLength(1);
    const pendingArchitectures = (['x86_64', 'arm64'] as const).filter((a) => record(account, a)!.pending!.length > 0);
    expect(pendingArchitectures).toHaveLength(1);
    const [refused] = pendingArchitectures;
    const accepted = (['x86_64', 'arm64'] as const).find((a) => a !== refused)!;
    expectChannelsAgree(account, accepted, parameter(account, accepted, 'snapshot-id')!);
    expectNothingLeft(failed, account);

    // Act
    const republished = await run(account, registries, 'entry-accepted', failed.endedAt + 3_600_000, ['x86_64', 'arm64']);

    // Assess: only the refused snapshot is announced again.
    const refusedId = parameter(account, refused!, 'snapshot-id')!;
    expect(republished.output).toMatchObject({ status: 'REPUBLISHED', republished: [{ snapshotId: refusedId, channels: ['event'] }] });
    expect(readyEvents(account).filter((e) => e.redelivered).map((e) => e.snapshotId)).toEqual([refusedId]);
    expectChannelsAgree(account, 'x86_64', parameter(account, 'x86_64', 'snapshot-id')!);
    expectChannelsAgree(account, 'arm64', parameter(account, 'arm64', 'snapshot-id')!);
    expectNothingLeft(republished, account);
  });

  it('a combined-layout snapshot whose event failed is redelivered once, both architectures\' ledgers completed', async () => {
    // Prepare
    const { account, registries } = setUp();
    const input = { recipe: RECIPE, images: [NGINX, REDIS], architectures: ['x86_64', 'arm64'], layout: 'combined' };
    const removeFault = account.events.failEntries('InternalFailure', Infinity);
    const failed = await runSimulation({ input, account, registries, executionName: 'combined-down', startTime: Date.UTC(2026, 11, 1, 3) });
    removeFault();
    expect({ status: failed.status, error: failed.error }).toEqual({ status: 'FAILED', error: 'TransientAwsError' });

    // Act
    const republished = await runSimulation({ input, account, registries, executionName: 'combined-back', startTime: failed.endedAt + 3_600_000 });

    // Assess
    const snapshotId = parameter(account, 'x86_64', 'snapshot-id')!;
    expect(republished.output).toMatchObject({ status: 'REPUBLISHED', republished: [{ snapshotId, channels: ['event'] }] });
    expect(readyEvents(account)).toEqual([expect.objectContaining({ snapshotId, redelivered: true })]);
    expectChannelsAgree(account, 'x86_64', snapshotId);
    expectChannelsAgree(account, 'arm64', snapshotId);
    expect(launches(account)).toBe(1);
    expectNothingLeft(republished, account);
  });
});
