/**
 * `npm run simulate -- --images <list> [--arch x86_64,arm64] [--layout combined] [--fault <spec>]... [--json]`
 *
 * Runs the real state machine and handlers against a simulated AWS account on a virtual clock (no AWS, no
 * network): shows each stage per architecture as it happens, then the execution output or the failure and its
 * cause. Exits 1 when the execution fails, 2 on a usage error. docs/simulation.md describes it.
 */
import './unsupported-node-warning';
import '../simulation/environment';
import { Command, InvalidArgumentError, Option } from 'commander';
import { FAULT_GRAMMAR, parseFaultSpec, type FaultSpec } from '../simulation/scenarios/faults';
import { runSimulation, type SimulationEvent, type SimulationReport } from '../simulation/run-state-machine';
import { PAYLOAD_LIMIT_BYTES } from '../simulation/sfn-quotas';
import { architecturesFromPlatforms, splitImageList } from './snapshot-flags';

/** `+HH:MM:SS` of virtual time since the execution started. */
export const formatElapsed = (ms: number): string => {
  const total = Math.floor(ms / 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `+${pad(Math.floor(total / 3600))}:${pad(Math.floor((total % 3600) / 60))}:${pad(total % 60)}`;
};

/** Where each Task stores its result in the iteration's state (ResultPath), to summarise it. */
const RESULT_KEY: Record<string, string> = {
  LaunchInstance: 'instance',
  CheckSsmAgent: 'ssm',
  SendPullCommand: 'pull',
  CheckPullCommand: 'pullStatus',
  StopInstance: 'stop',
  CheckInstanceStopped: 'stopStatus',
  CreateSnapshot: 'snapshot',
  CheckSnapshot: 'snapshotStatus',
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;

/** One line summarising what a Task found, e.g. `online`, `i-0123 (m7i.xlarge)`, `pending 40%`. */
export const summarizeTask = (state: string, output: Any): string => {
  const result = RESULT_KEY[state] ? output?.[RESULT_KEY[state]] : undefined;
  switch (state) {
    case 'PrepareBuild': {
      const plan = output?.plan;
      const builds = (plan?.builds ?? []) as Any[];
      return `${plan?.status} (${plan?.reason}) recipe ${plan?.recipe}: ${builds.map((b) => `${b.architecture} [${b.platforms.join(', ')}]`).join('; ') || 'nothing to build'}`;
    }
    case 'LaunchInstance':
      return `${result?.instanceId} (${result?.instanceType}, ${result?.amiId})`;
    case 'CheckSsmAgent':
      return result?.online ? 'online' : `waiting (${result?.pingStatus})`;
    case 'SendPullCommand':
      return `command ${result?.commandId}`;
    case 'CheckPullCommand':
      return result?.done ? `done: ${result.pulled} image pull(s) verified` : `${result?.status}`;
    case 'StopInstance':
      return 'stop requested';
    case 'CheckInstanceStopped':
      return `${result?.state}`;
    case 'CreateSnapshot':
      return `${result?.snapshotId} of ${result?.volumeId}`;
    case 'CheckSnapshot':
      return `${result?.state} ${result?.progress}`;
    case 'TerminateInstance':
      return 'terminate requested';
    case 'PublishSnapshot':
      return `published ${((output?.snapshots ?? []) as Any[]).map((s) => s.snapshotId).join(', ')}`;
    default:
      if (state.startsWith('Cleanup')) return `cleaned up: ${output?.cleanup?.cause ?? ''}`;
      return '';
  }
};

/**
 * Formats events as progress lines; undefined for events not worth a line (Wait, Choice, Pass...).
 * Stateful: a Task whose error was caught still "exits", and that exit is not a result to show.
 */
export const createProgressFormatter = () => {
  const caught = new Set<string>();
  return (event: SimulationEvent): string | undefined => {
    const key = `${event.index ?? '-'}:${event.state}`;
    const where = (event.architecture ?? '').padEnd(7);
    const prefix = `[${formatElapsed(event.elapsedMs)}] ${where} ${(event.state ?? '').padEnd(24)}`;
    switch (event.type) {
      case 'StateExited':
        if (caught.delete(key)) return undefined;
        return event.stateType === 'Task' ? `${prefix} ${summarizeTask(event.state!, event.output)}` : undefined;
      case 'StateFailed':
        return `${prefix} failed: ${event.error} (${firstLine(event.cause).slice(0, 200)})`;
      case 'StateRetried':
        return `${prefix} retry #${event.attempt}`;
      case 'StateCaught':
        caught.add(key);
        return `${prefix} caught: going to cleanup`;
      case 'ExecutionFailed':
        return `[${formatElapsed(event.elapsedMs)}] execution failed: ${event.error}`;
      case 'ExecutionSucceeded':
        return `[${formatElapsed(event.elapsedMs)}] execution succeeded`;
      default:
        return undefined;
    }
  };
};

/** `12,345 bytes (4.7 % of 256 KiB, PrepareBuild task result)`. */
export const largestPayloadText = (report: Pick<SimulationReport, 'largestPayload'>): string => {
  const largest = report.largestPayload;
  if (!largest) return 'none';
  return `${largest.bytes.toLocaleString('en-US')} bytes (${((largest.bytes / PAYLOAD_LIMIT_BYTES) * 100).toFixed(1)} % of 256 KiB, ${largest.state} ${largest.kind})`;
};

const firstLine = (text: string | undefined): string => (text ?? '').split('\n')[0]!.slice(0, 300);

/** The run as JSON: outcome, figures and the event log without the bulky state payloads. */
export const reportJson = (report: SimulationReport) => ({
  status: report.status,
  output: report.output,
  error: report.error,
  cause: report.cause,
  durationSeconds: report.durationMs / 1000,
  stateTransitions: report.stateTransitions,
  lambdaInvocations: report.lambdaInvocations,
  invocationsByFunction: report.invocationsByFunction,
  historyEvents: report.historyEvents,
  largestPayload: report.largestPayload,
  leftovers: report.leftovers,
  iam: { evaluated: report.iam.evaluated, denied: report.iam.denied, byAction: report.iam.byAction },
  events: report.events.map(({ input: _input, output: _output, ...event }) => event),
});

/** `IAM: 56 requests evaluated, 0 denied (ec2:DescribeInstances 15, ...)`: every check against the deployed policies. */
export const iamSummary = ({ iam }: Pick<SimulationReport, 'iam'>): string => {
  const byAction = Object.entries(iam.byAction)
    .sort(([, a], [, b]) => b.evaluated - a.evaluated)
    .map(([action, { evaluated, denied }]) => `${action} ${evaluated}${denied ? ` (${denied} denied)` : ''}`);
  return `IAM: ${iam.evaluated} requests evaluated against the deployed policies, ${iam.denied} denied (${byAction.join(', ')})`;
};

/** Commander prints an InvalidArgumentError's message with the option it concerns; any other error it would rethrow bare. */
const invalidArgument = <T>(parse: (value: string) => T) => (value: string): T => {
  try {
    return parse(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
};

export const buildProgram = (): Command =>
  new Command('simulate')
    .description('Run the snapshot factory state machine against a simulated AWS account, on a virtual clock.')
    .requiredOption('--images <list>', 'comma-separated image references', invalidArgument(splitImageList))
    .addOption(new Option('--arch <list>', 'architectures: x86_64, arm64 (or amd64), comma-separated').argParser(invalidArgument(architecturesFromPlatforms)))
    .addOption(new Option('--layout <layout>', 'per-architecture (one snapshot per architecture) or combined').choices(['per-architecture', 'combined']))
    .option('--input <json>', 'extra execution input fields as JSON, e.g. \'{"dataVolume":{"sizeGiB":200}}\'', invalidArgument((value: string) => JSON.parse(value) as Record<string, unknown>))
    .option('--fault <spec>', 'inject a fault (repeatable); see --help-faults', (value: string, previous: FaultSpec[]) => [...previous, invalidArgument(parseFaultSpec)(value)], [] as FaultSpec[])
    .option('--execution-name <name>', 'execution name (tags every simulated resource)')
    .option('--json', 'print the report as JSON instead of progress lines')
    .option('--help-faults', 'list the fault specs and exit')
    .showHelpAfterError();

export const main = async (argv: readonly string[], out: (line: string) => void = console.log): Promise<number> => {
  if (argv.includes('--help-faults')) {
    out(`Fault specs (--fault, repeatable):\n  ${FAULT_GRAMMAR.join('\n  ')}`);
    return 0;
  }
  const program = buildProgram().exitOverride();
  try {
    program.parse(argv as string[], { from: 'user' });
  } catch (error) {
    const code = (error as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : 2;
  }
  const options = program.opts<{ images: string[]; arch?: string[]; layout?: string; input?: Record<string, unknown>; fault: FaultSpec[]; executionName?: string; json?: boolean }>();
  const input = {
    ...options.input,
    images: options.images,
    ...(options.arch ? { architectures: options.arch } : {}),
    ...(options.layout ? { layout: options.layout } : {}),
  };
  const formatEvent = createProgressFormatter();
  const report = await runSimulation({
    input,
    faults: options.fault,
    executionName: options.executionName,
    onEvent: options.json
      ? undefined
      : (event) => {
          const line = formatEvent(event);
          if (line) out(line);
        },
  });
  if (options.json) {
    out(JSON.stringify(reportJson(report), null, 2));
  } else {
    out('');
    if (report.status === 'SUCCEEDED') out(JSON.stringify(report.output, null, 2));
    else out(`${report.status}: ${report.error}\ncause: ${report.cause}`);
    out(
      `\nvirtual time ${formatElapsed(report.durationMs).slice(1)}, ${report.stateTransitions} state transitions, ${report.lambdaInvocations} Lambda invocations, ` +
        `${report.historyEvents} history events (quota 25,000), largest payload ${largestPayloadText(report)}` +
        (Object.values(report.leftovers).some((list) => list.length) ? `; LEFT OVER: ${JSON.stringify(report.leftovers)}` : ''),
    );
    out(iamSummary(report));
  }
  return report.status === 'SUCCEEDED' ? 0 : 1;
};

const invokedDirectly = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`simulate: ${(error as Error).message}`);
      process.exit(2);
    },
  );
}
