import { describe, expect, it } from 'vitest';
import { parseStatesArn, regionFor } from '../../cli/arns';
import { buildCommand, executionInputFromFlags, type BuildOptions } from '../../cli/build-command';
import { architectureFromName, architecturesByName, checkInstanceTypes, parseInstanceTypes } from '../../cli/instance-types';
import { warnOnUnsupportedNode } from '../../cli/node-support';
import { rewriteLegacyFlags } from '../../cli/snapshot-flags';

const ARN = 'arn:aws:states:us-west-2:111122223333:stateMachine:SnapshotFactory';

/** Parses argv exactly as the CLI does (legacy flags rewritten, commander strict). */
const parse = (...argv: string[]): { images: string[]; options: BuildOptions } => {
  const command = buildCommand().exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  let result: { images: string[]; options: BuildOptions } | undefined;
  command.action((images: string[], options: BuildOptions) => {
    result = { images, options };
  });
  command.parse(rewriteLegacyFlags(['--state-machine-arn', ARN, ...argv]), { from: 'user' });
  return result!;
};

const byName = { architecturesOf: architecturesByName, source: 'the naming rule' };

describe('snapshot-factory build flags', () => {
  it('keeps snapshot.sh -A with several platforms as one combined snapshot, -i for its one builder', () => {
    // Prepare
    const { images, options } = parse('-A', 'amd64,arm64', '-i', 'm7i.large,m6i.large', 'nginx:1');
    // Act
    const input = executionInputFromFlags(images, options);
    // Assess
    expect(input).toEqual({
      images: ['nginx:1'],
      architectures: ['x86_64', 'arm64'],
      layout: 'combined',
      instanceTypes: { x86_64: ['m7i.large', 'm6i.large'] },
    });
  });

  it('fails when a flag is unknown instead of taking it for an image', () => {
    expect(() => parse('--no-such-flag', 'nginx:1')).toThrow(/unknown option '--no-such-flag'/);
  });

  it('fails when the image list has an empty entry', () => {
    expect(() => parse('nginx:1,,redis:7')).toThrow(/empty entry at position 2/);
  });

  it('fails when -i mixes plain types and per-architecture types', () => {
    expect(() => parseInstanceTypes('m5.large,arm64=m6g.large', ['x86_64', 'arm64'])).toThrow(/mixes plain types and <architecture>=<type>/);
  });

  it('fails when -i names an architecture the build launches no builder for', () => {
    expect(() => parseInstanceTypes('arm64=m7g.large', ['x86_64'])).toThrow(/"arm64=m7g.large" is for arm64, which this build does not launch a builder for/);
  });

  it('fails when -i gives something that is not an instance type', () => {
    expect(() => parseInstanceTypes('x86_64=large', ['x86_64'])).toThrow(/"large" is not an EC2 instance type/);
  });
});

describe('instance type architectures', () => {
  it.each([
    ['m7i.large', 'x86_64'],
    ['m5.large', 'x86_64'],
    ['g4dn.xlarge', 'x86_64'],
    ['x2iedn.xlarge', 'x86_64'],
    ['m7i-flex.large', 'x86_64'],
    ['m7g.large', 'arm64'],
    ['c7gn.16xlarge', 'arm64'],
    ['im4gn.large', 'arm64'],
    ['is4gen.medium', 'arm64'],
    ['g5g.xlarge', 'arm64'],
    ['t4g.micro', 'arm64'],
    ['a1.medium', 'arm64'],
    ['mac2.metal', 'mac'],
  ])('tells %s is %s from its name', (type, architecture) => {
    expect(architectureFromName(type)).toBe(architecture);
  });

  it('says it cannot tell from a name outside the convention', () => {
    expect(architectureFromName('u-6tb1.metal')).toBeUndefined();
  });

  it('fails when a type cannot be told offline, suggesting credentials', async () => {
    await expect(checkInstanceTypes({ x86_64: ['u-6tb1.metal'] }, byName)).rejects.toThrow(/cannot tell the architecture of "u-6tb1.metal"/);
  });

  it('fails when a Mac type is given', async () => {
    await expect(checkInstanceTypes({ arm64: ['mac2.metal'] }, byName)).rejects.toThrow(/"mac2.metal" is mac/);
  });

  it('accepts types matching their architectures', async () => {
    await expect(checkInstanceTypes({ x86_64: ['m7i.large'], arm64: ['m7g.large'] }, byName)).resolves.toBeUndefined();
  });
});

describe('state machine ARNs', () => {
  it('gives the region the ARN names', () => {
    expect(regionFor(parseStatesArn(ARN, 'stateMachine', '--state-machine-arn'), undefined)).toBe('us-west-2');
  });

  it('fails when --region contradicts the ARN', () => {
    expect(() => regionFor(parseStatesArn(ARN, 'stateMachine', '--state-machine-arn'), 'eu-west-1')).toThrow(/--region eu-west-1 does not match the ARN's region us-west-2/);
  });

  it('fails when an execution ARN is given for a state machine', () => {
    expect(() => parseStatesArn(`${ARN.replace('stateMachine', 'execution')}:e1`, 'stateMachine', '--state-machine-arn')).toThrow(/is not a Step Functions state machine ARN/);
  });
});

describe('Node.js support', () => {
  it('warns once on Node 20 and turns the SDK warning off', () => {
    // Prepare
    const env: NodeJS.ProcessEnv = {};
    const lines: string[] = [];
    // Act
    const warned = warnOnUnsupportedNode('20.20.2', env, (line) => lines.push(line));
    // Assess
    expect(warned).toBe(true);
    expect(lines).toEqual([expect.stringContaining('install Node.js 22.12.0 or later')]);
    expect(env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBe('true');
  });

  it('says nothing and leaves the SDK alone on Node 22.12 and 24', () => {
    for (const version of ['22.12.0', '24.1.0']) {
      const env: NodeJS.ProcessEnv = {};
      expect(warnOnUnsupportedNode(version, env, () => undefined)).toBe(false);
      expect(env).toEqual({});
    }
  });
});
