/**
 * Resolves the CloudFormation intrinsic functions of a synthesized template the way CloudFormation does at
 * deploy time, for the parts the simulation reads (IAM policy documents, Lambda environment variables).
 *
 * Semantics from AWS's "Intrinsic function reference" (AWS CloudFormation User Guide,
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html) and
 * "Pseudo parameters reference" (.../pseudo-parameter-reference.html). Supported: Ref (resources, parameters'
 * defaults, pseudo parameters), Fn::GetAtt, Fn::Join, Fn::Sub (both forms), Fn::Select, Fn::FindInMap,
 * Fn::Split. Anything else (Fn::If, Fn::ImportValue, Fn::GetAZs, Fn::Base64...) throws
 * {@link UnsupportedIntrinsicError} naming it and where it was met: a policy the simulation cannot resolve
 * must not be evaluated as something else.
 */

/** An intrinsic (or a reference) the simulated deploy does not resolve. */
export class UnsupportedIntrinsicError extends Error {
  override readonly name = 'UnsupportedIntrinsicError' as const;
}

/** What the resolver needs from the deployment: physical IDs and attributes of resources, pseudo parameters. */
export interface ResolverContext {
  readonly accountId: string;
  readonly region: string;
  readonly partition: string;
  readonly stackName: string;
  readonly urlSuffix: string;
  /** `Ref` of a resource (its physical ID, or what the type's Ref returns). */
  ref(logicalId: string, where: string): string;
  /** `Fn::GetAtt` of a resource. */
  getAtt(logicalId: string, attribute: string, where: string): string;
  readonly mappings?: Record<string, Record<string, Record<string, unknown>>>;
  readonly parameters?: Record<string, { Default?: unknown }>;
}

const pseudo = (ctx: ResolverContext, name: string): string | undefined =>
  ({
    'AWS::AccountId': ctx.accountId,
    'AWS::Region': ctx.region,
    'AWS::Partition': ctx.partition,
    'AWS::StackName': ctx.stackName,
    'AWS::StackId': `arn:${ctx.partition}:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/00000000-0000-0000-0000-000000000000`,
    'AWS::URLSuffix': ctx.urlSuffix,
  })[name];

const asString = (value: unknown, where: string): string => {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new UnsupportedIntrinsicError(`${where}: expected a string after resolution, got ${JSON.stringify(value)}`);
};

const refOf = (ctx: ResolverContext, name: string, where: string): string => {
  const value = pseudo(ctx, name);
  if (value !== undefined) return value;
  if (name.startsWith('AWS::')) throw new UnsupportedIntrinsicError(`${where}: pseudo parameter ${name} is not supported`);
  const parameter = ctx.parameters?.[name];
  if (parameter) {
    if (parameter.Default === undefined) throw new UnsupportedIntrinsicError(`${where}: parameter ${name} has no default to deploy with`);
    return asString(parameter.Default, where);
  }
  return ctx.ref(name, where);
};

/** `Fn::Sub` template: `${Name}`, `${Logical.Attr}`, `${!Literal}`. */
const substitute = (ctx: ResolverContext, template: string, variables: Record<string, unknown>, where: string): string =>
  template.replace(/\$\{([^}]*)\}/g, (_, body: string) => {
    if (body.startsWith('!')) return `\${${body.slice(1)}}`;
    if (body in variables) return asString(resolveIntrinsics(variables[body], ctx, where), where);
    const dot = body.indexOf('.');
    if (dot > 0 && !body.startsWith('AWS::')) return ctx.getAtt(body.slice(0, dot), body.slice(dot + 1), where);
    return refOf(ctx, body, where);
  });

/**
 * Returns `value` with every intrinsic replaced by its deploy-time value.
 *
 * @param where names the template location in errors, e.g. `FactoryLaunchInstanceRoleDefaultPolicy.PolicyDocument`.
 * @example resolveIntrinsics({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }]] }, ctx, 'x') // 'arn:aws'
 */
export const resolveIntrinsics = (value: unknown, ctx: ResolverContext, where: string): unknown => {
  if (Array.isArray(value)) return value.map((item, i) => resolveIntrinsics(item, ctx, `${where}[${i}]`));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 1) {
    const [key, argument] = entries[0]!;
    const at = `${where} (${key})`;
    if (key === 'Ref') return refOf(ctx, asString(argument, at), at);
    if (key === 'Fn::GetAtt') {
      const [logicalId, attribute] = Array.isArray(argument) ? argument : String(argument).split(/\.(.*)/);
      return ctx.getAtt(asString(logicalId, at), asString(resolveIntrinsics(attribute, ctx, at), at), at);
    }
    if (key === 'Fn::Join') {
      const [separator, items] = argument as [string, unknown];
      const list = resolveIntrinsics(items, ctx, at);
      if (!Array.isArray(list)) throw new UnsupportedIntrinsicError(`${at}: the list to join is not a list`);
      return list.map((item) => asString(item, at)).join(separator);
    }
    if (key === 'Fn::Sub') {
      const [template, variables] = typeof argument === 'string' ? [argument, {}] : (argument as [string, Record<string, unknown>]);
      return substitute(ctx, template, variables ?? {}, at);
    }
    if (key === 'Fn::Select') {
      const [index, items] = argument as [unknown, unknown];
      const list = resolveIntrinsics(items, ctx, at);
      const i = Number(resolveIntrinsics(index, ctx, at));
      if (!Array.isArray(list) || !Number.isInteger(i) || i < 0 || i >= list.length) {
        throw new UnsupportedIntrinsicError(`${at}: index ${i} is out of the list ${JSON.stringify(list)}`);
      }
      return list[i];
    }
    if (key === 'Fn::Split') {
      const [separator, source] = argument as [string, unknown];
      return asString(resolveIntrinsics(source, ctx, at), at).split(separator);
    }
    if (key === 'Fn::FindInMap') {
      const [map, top, second] = (argument as unknown[]).map((part) => asString(resolveIntrinsics(part, ctx, at), at));
      const found = ctx.mappings?.[map!]?.[top!]?.[second!];
      if (found === undefined) throw new UnsupportedIntrinsicError(`${at}: mapping ${map}.${top}.${second} does not exist`);
      return found;
    }
    if (key.startsWith('Fn::') || key === 'Condition') {
      throw new UnsupportedIntrinsicError(`${at}: the simulated deploy does not support ${key}; add it to simulation/deploy/intrinsics.ts`);
    }
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveIntrinsics(item, ctx, `${where}.${key}`)]));
};
