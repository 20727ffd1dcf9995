/**
 * Fault specs: one string per fault, shared by `npm run simulate -- --fault <spec>`, the state-machine tests
 * and the benchmark. docs/simulation.md lists the grammar; {@link FAULT_GRAMMAR} is the same list for `--help`.
 *
 * AWS-level faults become `core.inject` rules (the request fails with AWS's own error code); resource-level
 * faults call the simulated services' hooks (an instance lost, a snapshot in `error`, a command that fails...).
 */
import { FAULTS, type FaultRule, type ServiceName } from '../aws/core';
import type { SimulatedAccount } from '../aws/account';
import type { NeverFinishKind } from '../aws/ec2';
import { PUT_EVENTS_ENTRY_ERROR_CODES, type PutEventsEntryErrorCode } from '../aws/events';
import type { SimulatedRegistries } from '../registries';

export type FaultSpec =
  | { kind: 'aws'; rule: FaultRule; text: string; /** Inject only when this Task state first runs. */ fromState?: string }
  | { kind: 'no-capacity'; instanceType: string; code: string; text: string }
  | { kind: 'lose-instance'; state: string; vanish: boolean; architecture?: string; text: string }
  | { kind: 'snapshot-error'; text: string }
  | { kind: 'never-finish'; what: NeverFinishKind | 'pull'; text: string }
  | { kind: 'registry-down'; host: string; text: string }
  | { kind: 'image-missing'; reference: string; text: string }
  | { kind: 'event-entry-fails'; code: PutEventsEntryErrorCode; times: number; text: string }
  | { kind: 'ssm'; what: SsmFaultKind; argument?: string; text: string }
  | { kind: 'slow'; state: string; seconds: number; architecture?: string; text: string };

export const SSM_FAULT_KINDS = ['agent-never-online', 'command-fails', 'command-times-out', 'volume-too-small', 'pull-image-missing', 'pull-unverified'] as const;
export type SsmFaultKind = (typeof SSM_FAULT_KINDS)[number];

/** Grammar of `--fault`, one line per form. */
export const FAULT_GRAMMAR = [
  'throttle:<service>:<Operation>[:<times>|always]   the next <times> (default 1) calls fail with the service\'s throttling code',
  'server-error:<service>:<Operation>[:<times>|always] the next calls fail with a 500 (InternalError / InternalServerError)',
  'access-denied:<service>:<Operation>[:<times>]      calls fail with UnauthorizedOperation / AccessDeniedException (default always)',
  'aws-error:<service>:<Operation>:<Code>[:<times>|always] the next calls fail with that AWS error code',
  'no-capacity:<instanceType>[:<Code>]                RunInstances of that type fails (InsufficientInstanceCapacity)',
  'lose-instance:<State>[:<arch>]                     the builder instance terminates just before Task <State> runs',
  'vanish-instance:<State>[:<arch>]                   same, and the instance also disappears from DescribeInstances',
  'snapshot-error                                     the data volume\'s snapshot goes to state error',
  'never-finish:<launch|stop|terminate|snapshot|pull> that step never completes (the stage time limit fires)',
  'slow:<State>:<seconds>[:<arch>]                   Task <State>\'s Lambda starts its work <seconds> late (a cold start, a slow call), up to Lambda\'s 900 s',
  'registry-down:<host>                               the public registry answers 503 to digest lookups',
  'image-missing:<reference>                          the registry does not hold that image (digest lookup gets 404)',
  'event-entry-fails:<ErrorCode>[:<times>|always]     PutEvents answers 200 with the next entries failed (ThrottlingException, InternalFailure, AccessDeniedException...)',
  'agent-never-online                                 the SSM agent never registers',
  'command-fails[:<reason>]                           the pull command ends Failed',
  'command-times-out                                  SSM ends the pull command TimedOut',
  'volume-too-small                                   the pull fails for lack of space on /dev/xvdb',
  'pull-image-missing:<reference>                     the pull of that image fails on the instance (not found)',
  'pull-unverified:<reference>                        that image pulls, then fails the script\'s verification (a layer missing from the content store)',
  '<service> is one of ec2, ssm, ecr, sfn, events; <Operation> is the API name (RunInstances) or *',
  'an AWS-level fault may end in @<State>: it starts only when Task <State> first runs, e.g. throttle:ec2:DescribeInstances:7@CheckInstanceStopped',
];

const SERVICES = new Set<ServiceName>(['ec2', 'ssm', 'ecr', 'sfn', 'events']);

const service = (text: string, value: string | undefined): ServiceName => {
  if (!value || !SERVICES.has(value as ServiceName)) throw new Error(`fault "${text}": unknown service "${value ?? ''}" (use ${[...SERVICES].join(', ')})`);
  return value as ServiceName;
};
const operation = (text: string, value: string | undefined): string => {
  if (!value || !/^(\*|[A-Z][A-Za-z0-9]+)$/.test(value)) throw new Error(`fault "${text}": expected an API operation such as RunInstances, got "${value ?? ''}"`);
  return value;
};
const times = (text: string, value: string | undefined): number => {
  if (value === undefined) return 1;
  if (value === 'always') return Infinity;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`fault "${text}": times must be a positive whole number or "always", got "${value}"`);
  return n;
};

/**
 * Parses one `--fault` value.
 *
 * @example parseFaultSpec('throttle:ec2:RunInstances:3') // { kind: 'aws', rule: { service: 'ec2', operation: 'RunInstances', times: 3, code: 'RequestLimitExceeded', ... } }
 */
export const parseFaultSpec = (text: string): FaultSpec => {
  const at = /^(.*)@([A-Z][A-Za-z]+)$/.exec(text);
  if (at) {
    const fault = parseFaultSpec(at[1]!);
    if (fault.kind !== 'aws') throw new Error(`fault "${text}": only AWS-level faults (throttle, server-error, access-denied, aws-error) take @<State>`);
    return { ...fault, text, fromState: at[2] };
  }
  const [kind, ...args] = text.split(':');
  switch (kind) {
    case 'throttle':
      return { kind: 'aws', rule: FAULTS.throttle(service(text, args[0]), operation(text, args[1]), times(text, args[2])), text };
    case 'server-error':
      return { kind: 'aws', rule: FAULTS.serverError(service(text, args[0]), operation(text, args[1]), times(text, args[2])), text };
    case 'access-denied':
      return { kind: 'aws', rule: { ...FAULTS.accessDenied(service(text, args[0]), operation(text, args[1])), times: args[2] ? times(text, args[2]) : Infinity }, text };
    case 'aws-error': {
      const code = args[2];
      if (!code || !/^[A-Za-z][A-Za-z0-9.]+$/.test(code)) throw new Error(`fault "${text}": expected an AWS error code, got "${code ?? ''}"`);
      const rule: FaultRule = { service: service(text, args[0]), operation: operation(text, args[1]), code, times: times(text, args[3]), message: `Injected ${code}` };
      return { kind: 'aws', rule, text };
    }
    case 'no-capacity':
      if (!args[0]) throw new Error(`fault "${text}": expected an instance type`);
      return { kind: 'no-capacity', instanceType: args[0], code: args[1] ?? 'InsufficientInstanceCapacity', text };
    case 'lose-instance':
    case 'vanish-instance':
      if (!args[0] || !/^[A-Z][A-Za-z]+$/.test(args[0])) throw new Error(`fault "${text}": expected a Task state name such as CheckPullCommand`);
      if (args[1] && !['x86_64', 'arm64'].includes(args[1])) throw new Error(`fault "${text}": architecture must be x86_64 or arm64`);
      return { kind: 'lose-instance', state: args[0], vanish: kind === 'vanish-instance', architecture: args[1], text };
    case 'snapshot-error':
      return { kind: 'snapshot-error', text };
    case 'slow': {
      if (!args[0] || !/^[A-Z][A-Za-z]+$/.test(args[0])) throw new Error(`fault "${text}": expected a Task state name such as LaunchInstance`);
      const seconds = Number(args[1]);
      // Lambda's longest timeout is 900 s ("Lambda quotas", Lambda Developer Guide): a handler cannot take longer.
      if (!Number.isInteger(seconds) || seconds < 1 || seconds > 900) throw new Error(`fault "${text}": seconds must be a whole number from 1 to 900, got "${args[1] ?? ''}"`);
      if (args[2] && !['x86_64', 'arm64'].includes(args[2])) throw new Error(`fault "${text}": architecture must be x86_64 or arm64`);
      return { kind: 'slow', state: args[0], seconds, architecture: args[2], text };
    }
    case 'never-finish': {
      const what = args[0];
      if (!['launch', 'stop', 'terminate', 'snapshot', 'pull'].includes(what ?? '')) throw new Error(`fault "${text}": expected launch, stop, terminate, snapshot or pull`);
      return { kind: 'never-finish', what: what as NeverFinishKind | 'pull', text };
    }
    case 'registry-down':
      if (!args[0]) throw new Error(`fault "${text}": expected a registry host such as docker.io`);
      return { kind: 'registry-down', host: args.join(':'), text };
    case 'image-missing':
      if (!args[0]) throw new Error(`fault "${text}": expected an image reference`);
      return { kind: 'image-missing', reference: args.join(':'), text };
    case 'event-entry-fails': {
      const code = args[0] as PutEventsEntryErrorCode;
      if (!PUT_EVENTS_ENTRY_ERROR_CODES.includes(code)) throw new Error(`fault "${text}": expected a PutEvents entry error code (${PUT_EVENTS_ENTRY_ERROR_CODES.join(', ')}), got "${args[0] ?? ''}"`);
      return { kind: 'event-entry-fails', code, times: times(text, args[1]), text };
    }
    default:
      if (SSM_FAULT_KINDS.includes(kind as SsmFaultKind)) return { kind: 'ssm', what: kind as SsmFaultKind, argument: args.length ? args.join(':') : undefined, text };
      throw new Error(`unknown fault "${text}"; the forms are:\n  ${FAULT_GRAMMAR.join('\n  ')}`);
  }
};

/** Hooks run (and are awaited) just before a Task's handler, keyed by state name; they receive the Task's payload. */
export type TaskHooks = Map<string, ((payload: unknown) => void | Promise<void>)[]>;

const addHook = (hooks: TaskHooks, state: string, hook: (payload: unknown) => void | Promise<void>): void => {
  hooks.set(state, [...(hooks.get(state) ?? []), hook]);
};

/** Applies parsed faults to a simulated account (before the run starts). */
export const applyFaults = (
  faults: readonly FaultSpec[],
  { account, registries, hooks }: { account: SimulatedAccount; registries: SimulatedRegistries; hooks: TaskHooks },
): void => {
  for (const fault of faults) {
    switch (fault.kind) {
      case 'aws': {
        if (!fault.fromState) {
          account.core.inject(fault.rule);
          break;
        }
        let injected = false;
        addHook(hooks, fault.fromState, () => {
          if (injected) return;
          injected = true;
          account.core.inject(fault.rule);
        });
        break;
      }
      case 'no-capacity':
        account.ec2.refuseInstanceType(fault.instanceType, fault.code);
        break;
      case 'lose-instance': {
        const lost = new Set<string>();
        addHook(hooks, fault.state, (payload) => {
          const { instance, build } = (payload ?? {}) as { instance?: { instanceId?: string }; build?: { architecture?: string } };
          if (fault.architecture && build?.architecture !== fault.architecture) return;
          const instanceId = instance?.instanceId;
          if (!instanceId) throw new Error(`fault "${fault.text}": Task ${fault.state} receives no instance`);
          if (lost.has(instanceId)) return;
          lost.add(instanceId);
          account.ec2.loseInstance(instanceId, { vanish: fault.vanish });
        });
        break;
      }
      case 'snapshot-error':
        account.ec2.snapshotWillFail();
        break;
      case 'slow':
        // The invocation is under way and keeps running even when Step Functions stops its iteration.
        addHook(hooks, fault.state, async (payload) => {
          const { build } = (payload ?? {}) as { build?: { architecture?: string } };
          if (fault.architecture && build?.architecture !== fault.architecture) return;
          await new Promise<void>((resolve) => setTimeout(resolve, fault.seconds * 1000));
        });
        break;
      case 'never-finish':
        if (fault.what === 'pull') applySsmFault(account, 'never-finish-pull', undefined, fault.text);
        else account.ec2.neverFinish(fault.what);
        break;
      case 'registry-down':
        registries.down.add(fault.host);
        break;
      case 'image-missing':
        // Handled when the registries are filled: the image is left out.
        break;
      case 'ssm':
        applySsmFault(account, fault.what, fault.argument, fault.text);
        break;
      case 'event-entry-fails':
        account.events.failEntries(fault.code, fault.times);
        break;
    }
  }
};

/** Images the faults say the registries must not hold. */
export const missingImages = (faults: readonly FaultSpec[]): Set<string> =>
  new Set(faults.flatMap((fault) => (fault.kind === 'image-missing' ? [fault.reference] : [])));

const applySsmFault = (account: SimulatedAccount, what: SsmFaultKind | 'never-finish-pull', argument: string | undefined, text: string): void => {
  const ssm = account.ssmCommands;
  switch (what) {
    case 'agent-never-online':
      return ssm.agentNeverOnline();
    case 'command-fails':
      return argument ? ssm.nextCommandFails(argument) : ssm.nextCommandFails();
    case 'command-times-out':
      return ssm.nextCommandTimesOut();
    case 'volume-too-small':
      return ssm.dataVolumeTooSmall();
    case 'pull-image-missing':
      if (!argument) throw new Error(`fault "${text}": expected an image reference`);
      return ssm.imageMissing(argument);
    case 'pull-unverified':
      if (!argument) throw new Error(`fault "${text}": expected an image reference`);
      return ssm.imageUnverified(argument);
    case 'never-finish-pull':
      return ssm.neverFinish();
  }
};
