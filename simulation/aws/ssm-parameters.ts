/**
 * Simulated SSM Parameter Store: the public Bottlerocket AMI parameters and the factory's own
 * published parameters. Enforces Parameter Store's limits (standard tier value <= 4 KB, name grammar).
 *
 * Throughput: "Default throughput: 40 (Shared by the following API actions: GetParameter, GetParameters,
 * GetParametersByPath)" transactions per second per account and Region (AWS General Reference, "AWS Systems Manager
 * endpoints and quotas", Parameter Store's "Max throughput"; higher throughput, an opt-in setting at a cost, is not
 * modelled). Beyond it Parameter Store answers `ThrottlingException: Rate exceeded` (Systems Manager User Guide,
 * "Changing Parameter Store throughput"; AWS re:Post knowledge center, "ssm-parameter-store-rate-exceeded"), HTTP 400
 * as the JSON protocol's client errors. Modelled as one bucket of 40 refilled with 40 every second. PutParameter also
 * counts against throughput (same User Guide page) but no figure for it was found: it is not throttled here. No other
 * SSM API (SendCommand, GetCommandInvocation, DescribeInstanceInformation) has a published rate.
 */
import { AwsServiceError, type RateLimiter, type SimulatedAwsCore } from './core';
import { TokenBucket } from './ec2-throttling';

/** Parameter Store's default throughput, transactions per second, shared by these reads. */
export const PARAMETER_STORE_THROUGHPUT = { capacity: 40, refillPerSecond: 40, actions: ['GetParameter', 'GetParameters', 'GetParametersByPath'] } as const;

/** The reads' shared throughput; `refused` counts what it throttled. */
export class ParameterStoreThroughput implements RateLimiter {
  refused = 0;
  private readonly bucket = new TokenBucket(PARAMETER_STORE_THROUGHPUT);

  admit(operation: string, _input: unknown, now = Date.now()): void {
    if (!(PARAMETER_STORE_THROUGHPUT.actions as readonly string[]).includes(operation)) return;
    if (this.bucket.take(1, now)) return;
    this.refused += 1;
    throw new AwsServiceError('ThrottlingException', 'Rate exceeded', 400);
  }
}

interface StoredParameter {
  Name: string;
  Value: string;
  Type: string;
  Version: number;
  LastModifiedDate: Date;
  Description?: string;
  Tier: 'Standard' | 'Advanced';
  Tags: { Key: string; Value: string }[];
}

const NAME_PATTERN = /^[a-zA-Z0-9_.\-/]{1,2048}$/;
const STANDARD_VALUE_LIMIT = 4096;

export class SimulatedParameterStore {
  readonly parameters = new Map<string, StoredParameter>();
  /** Parameter Store's throughput of this account and Region (above). */
  readonly throughput = new ParameterStoreThroughput();

  constructor(private readonly core: SimulatedAwsCore) {
    core.limitRate('ssm', this.throughput);
    core.register('ssm', {
      GetParameter: (input: { Name: string }) => ({ Parameter: this.get(input.Name) }),
      GetParameters: (input: { Names: string[] }) => ({
        Parameters: input.Names.filter((name) => this.parameters.has(name)).map((name) => this.get(name)),
        InvalidParameters: input.Names.filter((name) => !this.parameters.has(name)),
      }),
      PutParameter: (input: {
        Name: string;
        Value: string;
        Type?: string;
        Overwrite?: boolean;
        Description?: string;
        Tags?: { Key: string; Value: string }[];
        Tier?: string;
      }) => this.put(input),
      DeleteParameter: (input: { Name: string }) => {
        this.get(input.Name);
        this.parameters.delete(input.Name);
        return {};
      },
      AddTagsToResource: (input: { ResourceId: string; Tags: { Key: string; Value: string }[] }) => {
        const parameter = this.parameters.get(input.ResourceId);
        if (!parameter) throw new AwsServiceError('InvalidResourceId', `Parameter ${input.ResourceId} not found.`);
        for (const tag of input.Tags) {
          parameter.Tags = parameter.Tags.filter((t) => t.Key !== tag.Key).concat(tag);
        }
        return {};
      },
    });
  }

  /** Seeds a parameter, e.g. a Bottlerocket AMI ID at its public path. */
  seed(name: string, value: string): void {
    this.parameters.set(name, { Name: name, Value: value, Type: 'String', Version: 1, LastModifiedDate: new Date(), Tier: 'Standard', Tags: [] });
  }

  private get(name: string): StoredParameter & { ARN: string } {
    const parameter = this.parameters.get(name);
    if (!parameter) throw new AwsServiceError('ParameterNotFound', `Parameter ${name} not found.`);
    return { ...parameter, ARN: `arn:aws:ssm:${this.core.region}:${this.core.accountId}:parameter${name}` };
  }

  private put(input: {
    Name: string;
    Value: string;
    Type?: string;
    Overwrite?: boolean;
    Description?: string;
    Tags?: { Key: string; Value: string }[];
    Tier?: string;
  }): { Version: number; Tier: string } {
    if (!NAME_PATTERN.test(input.Name)) {
      throw new AwsServiceError('ValidationException', `Parameter name ${input.Name} does not match ${NAME_PATTERN}.`);
    }
    const existing = this.parameters.get(input.Name);
    const size = Buffer.byteLength(input.Value, 'utf8');
    // Intelligent-Tiering picks Advanced only when the value needs it; an Advanced parameter never goes back.
    const tier: StoredParameter['Tier'] =
      input.Tier === 'Advanced' || (input.Tier === 'Intelligent-Tiering' && (size > STANDARD_VALUE_LIMIT || existing?.Tier === 'Advanced'))
        ? 'Advanced'
        : 'Standard';
    if (existing?.Tier === 'Advanced' && tier === 'Standard') {
      throw new AwsServiceError(
        'ValidationException',
        `The parameter ${input.Name} is an advanced parameter and cannot be changed to a standard parameter.`,
      );
    }
    const limit = tier === 'Advanced' ? 8192 : STANDARD_VALUE_LIMIT;
    if (size > limit) {
      throw new AwsServiceError(
        'ValidationException',
        `${tier} tier parameters support a maximum parameter value of ${limit} characters.`,
      );
    }
    if (input.Description && input.Description.length > 1024) {
      throw new AwsServiceError('ValidationException', 'Description must be at most 1024 characters.');
    }
    if (existing && !input.Overwrite) {
      throw new AwsServiceError('ParameterAlreadyExists', `The parameter ${input.Name} already exists.`);
    }
    if (existing && input.Tags?.length) {
      throw new AwsServiceError('ValidationException', 'Tags cannot be specified with Overwrite; use AddTagsToResource.');
    }
    const version = (existing?.Version ?? 0) + 1;
    this.parameters.set(input.Name, {
      Name: input.Name,
      Value: input.Value,
      Type: input.Type ?? existing?.Type ?? 'String',
      Version: version,
      LastModifiedDate: new Date(),
      Description: input.Description ?? existing?.Description,
      Tier: tier,
      Tags: existing?.Tags ?? input.Tags ?? [],
    });
    return { Version: version, Tier: tier };
  }
}
