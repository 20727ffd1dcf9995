/**
 * A local HTTP stand-in for the AWS APIs the CLI calls, so tests run the installed `snapshot-factory` in a child
 * process with the real AWS SDK, pointed here by the SDK's own endpoint settings (`AWS_ENDPOINT_URL_SFN`,
 * `AWS_ENDPOINT_URL_EC2`, `AWS_ENDPOINT_URL_SSM`).
 *
 * Wire protocols and behaviour, from their sources:
 * - Step Functions speaks AWS JSON 1.0 (smithy.io/2.0/aws/protocols/aws-json-1_0-protocol.html): POST `/`,
 *   `X-Amz-Target: AWSStepFunctions.<Operation>`, JSON body; timestamps as epoch seconds; errors as HTTP 400 with
 *   `{"__type": "<Code>", "message": ...}`. Operations and errors from the Step Functions API reference:
 *   StartExecution (StateMachineDoesNotExist, InvalidArn, InvalidExecutionInput: input must be JSON, at most
 *   262,144 bytes), DescribeExecution (ExecutionDoesNotExist), GetExecutionHistory (`maxResults` 0-1000, newest first
 *   with `reverseOrder`, `nextToken` paging, InvalidToken for a token it did not issue).
 * - SSM speaks AWS JSON 1.1 (`X-Amz-Target: AmazonSSM.PutParameter`); PutParameter answers `{Version, Tier}`.
 * - EC2 speaks the EC2 Query protocol (smithy.io/2.0/aws/protocols/aws-ec2-query-protocol.html): form-encoded
 *   `Action=...`, XML answers with lowerCamel element names and `<item>` lists; errors as
 *   `<Response><Errors><Error><Code>`. DescribeInstanceTypes fails the whole call with InvalidInstanceType when one
 *   type does not exist; DescribeSnapshots with InvalidSnapshot.NotFound (EC2 API reference, error codes).
 *
 * Left out: SigV4 signature checks (any credentials are accepted, none are required to be real), throttling,
 * pagination of EC2 answers, and every operation the CLI does not call.
 *
 * An execution's history is a recorded one (test/cli/fixtures/*.history.json, made by the simulation); each
 * DescribeExecution reveals `eventsPerPoll` more events, and the execution is RUNNING until all are revealed.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export const ACCOUNT = '111122223333';
export const REGION = 'eu-central-1';
export const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:SnapshotFactory`;

/** A recorded execution: its history events (timestamps in epoch ms) and how it ended. */
export interface RecordedExecution {
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  output?: string;
  error?: string;
  cause?: string;
  events: { id: number; timestamp: number; [key: string]: unknown }[];
}

/** One EC2 instance type as DescribeInstanceTypes describes it. */
export const INSTANCE_TYPES: Record<string, string[]> = {
  'm5.large': ['i386', 'x86_64'],
  'm7i.large': ['x86_64'],
  'm6i.large': ['x86_64'],
  'm6g.large': ['arm64'],
  'm7g.large': ['arm64'],
  'c7gn.large': ['arm64'],
};

export interface StubSnapshot {
  snapshotId: string;
  volumeSize: number;
  state: 'pending' | 'completed' | 'error';
  encrypted: boolean;
  kmsKeyId?: string;
}

export interface AwsStub {
  url: string;
  /** Every request: service, operation, parsed body. */
  requests: { service: string; operation: string; body: Record<string, unknown>; signedRegion?: string }[];
  close: () => Promise<void>;
}

export interface StubOptions {
  execution?: RecordedExecution;
  eventsPerPoll?: number;
  snapshots?: StubSnapshot[];
}

const read = (request: IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => resolve(body));
    request.on('error', reject);
  });

class AwsError extends Error {
  constructor(readonly code: string, message: string, readonly status = 400) {
    super(message);
    this.name = 'AwsError';
  }
}

const xmlEscape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Starts the stub on 127.0.0.1 on a free port. */
export const startAwsStub = async (options: StubOptions = {}): Promise<AwsStub> => {
  const requests: AwsStub['requests'] = [];
  const executions = new Map<string, { revealed: number; startDate: number }>();
  const perPoll = options.eventsPerPoll ?? 25;

  const sfn = (operation: string, body: Record<string, unknown>): unknown => {
    const recorded = options.execution;
    switch (operation) {
      case 'StartExecution': {
        const arn = String(body.stateMachineArn ?? '');
        if (!/^arn:aws:states:/.test(arn)) throw new AwsError('InvalidArn', `Invalid Arn: '${arn}'`);
        if (arn !== STATE_MACHINE_ARN) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
        const input = String(body.input ?? '{}');
        if (Buffer.byteLength(input) > 262_144) throw new AwsError('InvalidExecutionInput', 'Input is too large');
        try {
          JSON.parse(input);
        } catch {
          throw new AwsError('InvalidExecutionInput', 'Invalid State Machine Execution Input: not JSON');
        }
        const name = String(body.name ?? `exec-${executions.size + 1}`);
        const executionArn = `arn:aws:states:${REGION}:${ACCOUNT}:execution:SnapshotFactory:${name}`;
        const startDate = recorded?.events[0]?.timestamp ?? Date.now();
        executions.set(executionArn, { revealed: 0, startDate });
        return { executionArn, startDate: startDate / 1000 };
      }
      case 'DescribeExecution': {
        const execution = executions.get(String(body.executionArn));
        if (!execution || !recorded) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(body.executionArn)}'`);
        execution.revealed = Math.min(recorded.events.length, execution.revealed + perPoll);
        const done = execution.revealed === recorded.events.length;
        return {
          executionArn: body.executionArn,
          stateMachineArn: STATE_MACHINE_ARN,
          status: done ? recorded.status : 'RUNNING',
          startDate: execution.startDate / 1000,
          ...(done && recorded.output !== undefined ? { output: recorded.output } : {}),
          ...(done && recorded.error ? { error: recorded.error } : {}),
          ...(done && recorded.cause ? { cause: recorded.cause } : {}),
        };
      }
      case 'GetExecutionHistory': {
        const execution = executions.get(String(body.executionArn));
        if (!execution || !recorded) throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${String(body.executionArn)}'`);
        const maxResults = Number(body.maxResults ?? 100) || 100;
        if (maxResults < 0 || maxResults > 1000) throw new AwsError('ValidationException', 'maxResults must be between 0 and 1000');
        const visible = recorded.events.slice(0, execution.revealed);
        const ordered = body.reverseOrder ? [...visible].reverse() : visible;
        const token = body.nextToken as string | undefined;
        const start = token === undefined ? 0 : Number(/^page-(\d+)$/.exec(token)?.[1] ?? NaN);
        if (Number.isNaN(start)) throw new AwsError('InvalidToken', `Invalid Token: '${token}'`);
        const page = ordered.slice(start, start + maxResults).map((event) => ({ ...event, timestamp: event.timestamp / 1000 }));
        const next = start + maxResults < ordered.length ? { nextToken: `page-${start + maxResults}` } : {};
        return { events: page, ...next };
      }
      default:
        throw new AwsError('UnknownOperationException', `stub does not implement ${operation}`);
    }
  };

  const ec2 = (operation: string, form: URLSearchParams): string => {
    const list = (prefix: string): string[] => [...form.entries()].filter(([key]) => key.startsWith(`${prefix}.`)).map(([, value]) => value);
    switch (operation) {
      case 'DescribeInstanceTypes': {
        const types = list('InstanceType');
        const missing = types.filter((type) => !INSTANCE_TYPES[type]);
        if (missing.length) throw new AwsError('InvalidInstanceType', `The following supplied instance types do not exist: [${missing.join(', ')}]`);
        const items = types
          .map((type) => `<item><instanceType>${type}</instanceType><processorInfo><supportedArchitectures>${INSTANCE_TYPES[type]!.map((a) => `<item>${a}</item>`).join('')}</supportedArchitectures></processorInfo></item>`)
          .join('');
        return `<DescribeInstanceTypesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><instanceTypeSet>${items}</instanceTypeSet></DescribeInstanceTypesResponse>`;
      }
      case 'DescribeSnapshots': {
        const ids = list('SnapshotId');
        const found = ids.map((id) => options.snapshots?.find((snapshot) => snapshot.snapshotId === id));
        const missing = ids.find((id, index) => !found[index]);
        if (missing) throw new AwsError('InvalidSnapshot.NotFound', `The snapshot '${missing}' does not exist.`);
        const items = found
          .map((s) => `<item><snapshotId>${s!.snapshotId}</snapshotId><volumeSize>${s!.volumeSize}</volumeSize><status>${s!.state}</status><encrypted>${s!.encrypted}</encrypted>${s!.kmsKeyId ? `<kmsKeyId>${xmlEscape(s!.kmsKeyId)}</kmsKeyId>` : ''}</item>`)
          .join('');
        return `<DescribeSnapshotsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r-1</requestId><snapshotSet>${items}</snapshotSet></DescribeSnapshotsResponse>`;
      }
      default:
        throw new AwsError('InvalidAction', `The action ${operation} is not valid for this web service.`);
    }
  };

  const server: Server = createServer((request, response) => {
    void (async () => {
      const text = await read(request);
      const target = String(request.headers['x-amz-target'] ?? '');
      // SigV4's credential scope names the region the client signed for: <key>/<date>/<region>/<service>/aws4_request.
      const signedRegion = /Credential=[^/]+\/\d{8}\/([^/]+)\//.exec(String(request.headers.authorization ?? ''))?.[1];
      try {
        if (target.startsWith('AWSStepFunctions.') || target.startsWith('AmazonSSM.')) {
          const [prefix, operation = ''] = target.split('.');
          const service = prefix === 'AmazonSSM' ? 'ssm' : 'sfn';
          const body = JSON.parse(text || '{}') as Record<string, unknown>;
          requests.push({ service, operation, body, signedRegion });
          const result = service === 'sfn' ? sfn(operation, body) : { Version: 1, Tier: 'Standard' };
          response.writeHead(200, { 'content-type': `application/x-amz-json-${service === 'sfn' ? '1.0' : '1.1'}` });
          response.end(JSON.stringify(result));
          return;
        }
        const form = new URLSearchParams(text);
        const operation = form.get('Action') ?? '';
        requests.push({ service: 'ec2', operation, body: Object.fromEntries(form.entries()), signedRegion });
        const xml = ec2(operation, form);
        response.writeHead(200, { 'content-type': 'text/xml;charset=UTF-8' });
        response.end(xml);
      } catch (error) {
        const failure = error instanceof AwsError ? error : new AwsError('InternalFailure', String(error), 500);
        if (target) {
          response.writeHead(failure.status, { 'content-type': 'application/x-amz-json-1.0' });
          response.end(JSON.stringify({ __type: failure.code, message: failure.message }));
        } else {
          response.writeHead(failure.status, { 'content-type': 'text/xml;charset=UTF-8' });
          response.end(`<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>${failure.code}</Code><Message>${xmlEscape(failure.message)}</Message></Error></Errors><RequestID>r-1</RequestID></Response>`);
        }
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
};
