/**
 * Core of the simulated AWS account: routes SDK commands to simulated services, records every
 * request, and injects faults. Time is `Date.now()`: tests and the simulation drive it with fake
 * timers, so resources progress with a virtual clock and nothing sleeps.
 */

/** An error shaped like an AWS SDK v3 service exception (name = AWS error code). */
export class AwsServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId: string };
  constructor(code: string, message: string, httpStatusCode = 400) {
    super(message);
    this.name = code;
    this.$fault = httpStatusCode >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode, requestId: 'simulated' };
  }
}

/** Throws the client error (HTTP 400) an AWS API answers a bad request with: `code` is the error's name. */
export const failRequest = (code: string, message: string): never => {
  throw new AwsServiceError(code, message, 400);
};

/** Service keys, named after the SDK client that calls them. */
export type ServiceName = 'ec2' | 'ssm' | 'ecr' | 'sfn' | 'events';

export const SERVICE_OF_CLIENT: Record<string, ServiceName> = {
  EC2Client: 'ec2',
  SSMClient: 'ssm',
  ECRClient: 'ecr',
  SFNClient: 'sfn',
  EventBridgeClient: 'events',
};

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Operation = (input: any) => unknown;

/** One request the simulated account received. */
export interface RecordedCall {
  service: ServiceName;
  operation: string;
  input: unknown;
  at: number;
  /** AWS error code the call ended with, if any. */
  error?: string;
  /** Who sent it, when the harness named a principal. */
  principal?: IamPrincipal;
}

/** A fault to inject: the next `times` matching calls fail with `code` (AWS's own error codes). */
export interface FaultRule {
  service: ServiceName;
  /** Operation name without `Command`, e.g. `RunInstances`; `*` matches every operation of the service. */
  operation: string;
  code: string;
  message?: string;
  httpStatusCode?: number;
  /** How many matching calls fail; default 1; `Infinity` for always. */
  times?: number;
  /** Matching calls to let through before failing; default 0. */
  after?: number;
  /** Extra condition on the request. */
  when?: (input: unknown) => boolean;
}

interface ActiveFault extends Required<Omit<FaultRule, 'when' | 'message'>> {
  message: string;
  when?: (input: unknown) => boolean;
  seen: number;
  fired: number;
}

/** Well-known fault shapes, so tests and the CLI speak the same language. */
export const FAULTS = {
  throttle: (service: ServiceName, operation: string, times = 1): FaultRule => ({
    service,
    operation,
    times,
    code: service === 'ec2' ? 'RequestLimitExceeded' : 'ThrottlingException',
    message: 'Rate exceeded',
    // EC2 answers RequestLimitExceeded with HTTP 503 (simulation/aws/ec2-throttling.ts says where that is seen); the
    // other services' ThrottlingException is a 400.
    httpStatusCode: service === 'ec2' ? 503 : 400,
  }),
  accessDenied: (service: ServiceName, operation: string): FaultRule => ({
    service,
    operation,
    times: Infinity,
    code: service === 'ec2' ? 'UnauthorizedOperation' : 'AccessDeniedException',
    message: `You are not authorized to perform this operation (${service}:${operation}).`,
    httpStatusCode: 403,
  }),
  serverError: (service: ServiceName, operation: string, times = 1): FaultRule => ({
    service,
    operation,
    times,
    code: service === 'ec2' ? 'InternalError' : 'InternalServerError',
    message: 'An internal error has occurred',
    httpStatusCode: 500,
  }),
};

/**
 * Who makes a request the simulated IAM evaluates: a factory function (by its file name in functions/, e.g.
 * `launch-instance`: the harness knows which handler is running) or a builder instance (its instance profile's
 * role: host-container pulls at boot, image pulls of the pull script).
 */
export type IamPrincipal = { kind: 'function'; name: string } | { kind: 'instance'; instanceId: string };

/** One IAM authorization request, as the AWS service authorization reference describes the action. */
export interface IamRequest {
  /** `service:Action`, e.g. `ecr:BatchGetImage`. */
  action: string;
  /** Each resource the action authorizes, with the resource's current tags (for `aws:ResourceTag/*`). */
  resources: { arn: string; tags?: Record<string, string> }[];
  /** Condition keys of the request (`aws:RequestTag/k`, `ec2:CreateAction`, `iam:PassedToService`...). */
  context?: Record<string, string | string[]>;
}

export interface IamDecision {
  allowed: boolean;
  /** For a denial: the action, the resource and what no statement allowed. */
  explanation?: string;
  /** The caller as AWS names it (`arn:aws:sts::<account>:assumed-role/<role>/<session>`). */
  principalArn?: string;
  /** For a denial: the action and resource that were refused. */
  action?: string;
  resource?: string;
  /** For a denial: the service's error message, as AWS words it. */
  message?: string;
}

/** The IAM requests AWS evaluates for one operation (simulation/iam/requests.ts). */
export type IamRequestMapper = (service: ServiceName, operation: string, input: unknown) => IamRequest[];

/** Decides an {@link IamRequest}; installed by the harness from the synthesized template's policies. */
export type Authorizer = (principal: IamPrincipal, request: IamRequest) => IamDecision;

/** A service's request-rate limits (simulation/aws/ec2-throttling.ts): throws the service's throttling error. */
export interface RateLimiter {
  admit(operation: string, input: unknown): void;
}

export class SimulatedAwsCore {
  readonly region: string;
  readonly accountId: string;
  readonly calls: RecordedCall[] = [];
  private readonly services = new Map<ServiceName, Record<string, Operation>>();
  private readonly faults: ActiveFault[] = [];
  private readonly rateLimiters = new Map<ServiceName, RateLimiter>();
  private authorizer?: Authorizer;
  private requestMapper?: IamRequestMapper;

  constructor(options: { region?: string; accountId?: string } = {}) {
    this.region = options.region ?? 'us-west-2';
    this.accountId = options.accountId ?? '111122223333';
  }

  /** Makes `operations` answer the calls of `service`. */
  register(service: ServiceName, operations: Record<string, Operation>): void {
    this.services.set(service, { ...(this.services.get(service) ?? {}), ...operations });
  }

  /** Makes every request to `service` spend `limiter`'s tokens first (EC2's buckets: simulation/aws/ec2.ts installs them). */
  limitRate(service: ServiceName, limiter: RateLimiter): void {
    this.rateLimiters.set(service, limiter);
  }

  /** Adds a fault; returns a function that removes it. */
  inject(rule: FaultRule): () => void {
    const fault: ActiveFault = {
      service: rule.service,
      operation: rule.operation,
      code: rule.code,
      message: rule.message ?? `Injected fault ${rule.code}`,
      httpStatusCode: rule.httpStatusCode ?? 400,
      times: rule.times ?? 1,
      after: rule.after ?? 0,
      when: rule.when,
      seen: 0,
      fired: 0,
    };
    this.faults.push(fault);
    return () => {
      const index = this.faults.indexOf(fault);
      if (index >= 0) this.faults.splice(index, 1);
    };
  }

  /**
   * Installs the IAM evaluator. Without one every request is allowed: only the simulated services' own unit
   * tests run that way; the harness (simulation/run-state-machine.ts) always installs the deployed policies.
   */
  setAuthorizer(authorizer: Authorizer | undefined): void {
    this.authorizer = authorizer;
  }

  /**
   * Installs the table of IAM requests per operation: with it and an authorizer, every request that carries
   * a principal is authorized before the service answers it, and a denial is the service's own error.
   */
  setRequestMapper(mapper: IamRequestMapper | undefined): void {
    this.requestMapper = mapper;
  }

  /** Whether requests are being authorized (an authorizer and a request mapper are installed). */
  get authorizing(): boolean {
    return Boolean(this.authorizer && this.requestMapper);
  }

  /** Whether `principal` may make `request` (always allowed while no authorizer is installed). */
  authorize(principal: IamPrincipal, request: IamRequest): IamDecision {
    return this.authorizer ? this.authorizer(principal, request) : { allowed: true };
  }

  /** Calls of one operation, e.g. `callsOf('ec2', 'RunInstances')`. */
  callsOf(service: ServiceName, operation: string): RecordedCall[] {
    return this.calls.filter((call) => call.service === service && call.operation === operation);
  }

  /**
   * Answers one SDK request as AWS would. While IAM is on ({@link authorizing}), `principal` is who signed it
   * and each IAM request of the operation must be allowed; a request without a principal then fails loudly.
   * A service's rate limits ({@link limitRate}) are spent before IAM is asked. `faults: false` leaves injected
   * faults to {@link failIfFaulted} (the SDK path asks it once per call).
   */
  async handle(service: ServiceName, operation: string, input: unknown, principal?: IamPrincipal, options: { faults?: boolean } = {}): Promise<unknown> {
    const call: RecordedCall = { service, operation, input: structuredClone(input), at: Date.now(), principal };
    this.calls.push(call);
    try {
      if (options.faults !== false) this.fireFault(service, operation, input);
      this.rateLimiters.get(service)?.admit(operation, input);
      this.authorizeCall(service, operation, input, principal);
      const implementation = this.services.get(service)?.[operation];
      if (!implementation) {
        throw new Error(`The simulated AWS does not implement ${service}:${operation}; add it to simulation/aws.`);
      }
      return await implementation(input ?? {});
    } catch (error) {
      call.error = (error as Error).name;
      throw error;
    }
  }

  /**
   * Fails one SDK call with the fault it matches, if any, recorded as {@link handle} records a call. The SDK path
   * (simulation/aws/install.ts) asks this once per call, before the SDK's retries: an injected fault stands for a
   * failure that outlasted them, so a fault of `times: 2` still fails two handler invocations, as it did before the
   * SDK's retry ran here. Rate throttling is evaluated per attempt in {@link handle}, as AWS does.
   */
  failIfFaulted(service: ServiceName, operation: string, input: unknown, principal?: IamPrincipal): void {
    try {
      this.fireFault(service, operation, input);
    } catch (error) {
      this.calls.push({ service, operation, input: structuredClone(input), at: Date.now(), principal, error: (error as Error).name });
      throw error;
    }
  }

  private authorizeCall(service: ServiceName, operation: string, input: unknown, principal: IamPrincipal | undefined): void {
    if (!this.authorizer || !this.requestMapper) return;
    if (!principal) {
      throw new Error(`${service}:${operation} was sent outside any principal while IAM is on: run the code with runAsFunction (simulation/iam/caller.ts)`);
    }
    for (const request of this.requestMapper(service, operation, input ?? {})) {
      const decision = this.authorizer(principal, request);
      if (decision.allowed) continue;
      const message = decision.message ?? `Not authorized to perform ${request.action}`;
      // EC2's query API answers UnauthorizedOperation (HTTP 403); the JSON services AccessDeniedException (400).
      // EC2 API reference "Error codes"; e.g. SSM API reference, "Common Errors".
      if (service === 'ec2') throw new AwsServiceError('UnauthorizedOperation', `You are not authorized to perform this operation. ${message}`, 403);
      throw new AwsServiceError('AccessDeniedException', message, 400);
    }
  }

  private fireFault(service: ServiceName, operation: string, input: unknown): void {
    for (const fault of this.faults) {
      if (fault.service !== service || (fault.operation !== '*' && fault.operation !== operation)) continue;
      if (fault.when && !fault.when(input)) continue;
      fault.seen += 1;
      if (fault.seen <= fault.after || fault.fired >= fault.times) continue;
      fault.fired += 1;
      throw new AwsServiceError(fault.code, fault.message, fault.httpStatusCode);
    }
  }
}
