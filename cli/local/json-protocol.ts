/**
 * The AWS JSON 1.0 protocol as Step Functions speaks it (botocore's service model: `"protocol": "json"`,
 * `"jsonVersion": "1.0"`, `"targetPrefix": "AWSStepFunctions"`): every request is a POST whose `X-Amz-Target`
 * header is `AWSStepFunctions.<Operation>` and whose body is the operation's input as JSON
 * (`application/x-amz-json-1.0`); a response is the output as JSON, timestamps as epoch seconds; an error is HTTP
 * 400 with `{"__type": "<error shape>", "message": "..."}` (500 for `InternalFailure`).
 *
 * A request without the header, or naming an operation the endpoint does not serve, gets 400 and
 * `{"__type":"com.amazon.coral.service#UnknownOperationException"}`, the body AWS's JSON services answer
 * (aws/aws-sdk-go#3689; 400 "BadRequest" in aws/aws-sdk-net#1536); a body that is not a JSON object gets
 * `com.amazon.coral.service#SerializationException`. SigV4 signatures are NOT verified: any credentials are
 * accepted, as the endpoint serves 127.0.0.1 only.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const CONTENT_TYPE = 'application/x-amz-json-1.0';
const TARGET_PREFIX = 'AWSStepFunctions.';
/** Members of the Timestamp shape in the served operations' outputs (epoch ms inside, epoch seconds on the wire). */
const TIMESTAMP_MEMBERS = new Set(['startDate', 'stopDate', 'creationDate', 'timestamp', 'redriveDate']);
/** Requests larger than this are refused before parsing: the largest input member is 262,144 bytes. */
const MAX_BODY_BYTES = 1_048_576;

/** An operation's answer, or an error with the model's shape name as `code`. */
export type OperationResult = { output: Record<string, unknown> } | { error: { code: string; message?: string } };

/** Epoch ms -> epoch seconds in every Timestamp member, at any depth. */
export const toWireTimestamps = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(toWireTimestamps);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([, member]) => member !== undefined)
      .map(([key, member]) => [key, TIMESTAMP_MEMBERS.has(key) && typeof member === 'number' ? member / 1000 : toWireTimestamps(member)]),
  );
};

const reply = (response: ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text), 'x-amzn-RequestId': randomUUID() });
  response.end(text);
};

const readBody = (request: IncomingMessage): Promise<string | undefined> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });

/**
 * Serves one HTTP request: decodes the operation and its input, asks `perform`, encodes the answer.
 *
 * @param operations the operations served (`X-Amz-Target` suffixes); any other is an unknown operation.
 */
export const serveJsonRequest = async (
  request: IncomingMessage,
  response: ServerResponse,
  operations: readonly string[],
  perform: (operation: string, input: Record<string, unknown>) => Promise<OperationResult>,
): Promise<void> => {
  const target = request.headers['x-amz-target'];
  const operation = typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? target.slice(TARGET_PREFIX.length) : undefined;
  const body = await readBody(request);
  if (request.method !== 'POST' || !operation || !operations.includes(operation)) {
    reply(response, 400, { __type: 'com.amazon.coral.service#UnknownOperationException' });
    return;
  }
  let input: unknown;
  try {
    input = body === undefined ? undefined : JSON.parse(body === '' ? '{}' : body);
  } catch {
    input = undefined;
  }
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    reply(response, 400, { __type: 'com.amazon.coral.service#SerializationException' });
    return;
  }
  const result = await perform(operation, input as Record<string, unknown>);
  if ('error' in result) {
    reply(response, result.error.code === 'InternalFailure' ? 500 : 400, { __type: result.error.code, message: result.error.message });
    return;
  }
  reply(response, 200, toWireTimestamps(result.output));
};
