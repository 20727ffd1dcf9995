import { describe, expect, it } from 'vitest';
import { parseImageReference } from '../../functions/lib/image-reference';
import {
  EXPECTED_DIGEST_MARK,
  REPORT_LINES,
  SSM_STDOUT_LIMIT,
  generatePullScript,
  parsePullReport,
  pullCommands,
  reportLine,
  reportPlanOf,
  successReportMaxChars,
} from '../../functions/lib/pull-script';
import { MAX_IMAGES } from '../../functions/lib/schemas';
import { longestReferences } from '../../simulation/max-input';

const D = `sha256:${'c'.repeat(64)}`;
const E = `sha256:${'e'.repeat(64)}`;
const plan = {
  references: ['docker.io/library/a:1', 'docker.io/library/b:1', 'docker.io/library/c:1', 'docker.io/library/d:1'],
  platforms: ['linux/amd64', 'linux/arm64'],
  expectedDigests: [undefined, undefined, E, undefined],
};

describe('pull report parser', () => {
  it('reads the summary, disk, image and failure lines by index and ignores anything else', () => {
    // Prepare
    const stdout = [
      'SNAPSHOT_FACTORY_SUMMARY\t4\t2\t2',
      'SNAPSHOT_FACTORY_DISK\t10737418240\t104857600\t5368709120',
      `SNAPSHOT_FACTORY_IMAGE\t2\t0\t1234\t${EXPECTED_DIGEST_MARK}`,
      'some noise a command printed',
      `SNAPSHOT_FACTORY_IMAGE\t3\t1\t99\t${D}`,
      'SNAPSHOT_FACTORY_FAILED\t0\t0\tctr: no space left on device',
      'SNAPSHOT_FACTORY_FAILED\t1\t1\tnot pulled: the data volume is full',
      'SNAPSHOT_FACTORY_END',
      '',
    ].join('\n');
    // Act
    const report = parsePullReport(stdout, plan);
    // Assess
    expect(report.summary).toEqual({ expected: 4, ok: 2, failed: 2 });
    expect(report.disk).toEqual({ neededBytes: 10737418240, freeBytes: 104857600, totalBytes: 5368709120 });
    expect(report.failures).toEqual([
      { reference: 'docker.io/library/a:1', platform: 'linux/amd64', reason: 'ctr: no space left on device' },
      { reference: 'docker.io/library/b:1', platform: 'linux/arm64', reason: 'not pulled: the data volume is full' },
    ]);
    // "=" is the expected digest; a printed digest is taken as printed.
    expect(report.images).toEqual([
      { reference: 'docker.io/library/c:1', platform: 'linux/amd64', digest: E, sizeBytes: 1234 },
      { reference: 'docker.io/library/d:1', platform: 'linux/arm64', digest: D, sizeBytes: 99 },
    ]);
    expect(report.truncated).toBe(false);
    expect(report.malformed).toEqual([]);
  });

  it('flags lines naming an index the plan does not have, a bad size, or "=" with no expected digest', () => {
    const stdout = [
      'SNAPSHOT_FACTORY_SUMMARY\t3\t3\t0',
      `SNAPSHOT_FACTORY_IMAGE\t9\t0\t1\t${D}`,
      `SNAPSHOT_FACTORY_IMAGE\t0\t0\tnot-a-number\t${D}`,
      `SNAPSHOT_FACTORY_IMAGE\t0\t1\t5\t${EXPECTED_DIGEST_MARK}`,
      'SNAPSHOT_FACTORY_END',
      '',
    ].join('\n');
    const report = parsePullReport(stdout, plan);
    expect(report.images).toEqual([]);
    expect(report.malformed).toHaveLength(3);
    expect(report.truncated).toBe(true);
  });

  it('treats a report without its end line, stopping mid-line or filling the SSM limit as truncated', () => {
    const cut = parsePullReport(`SNAPSHOT_FACTORY_SUMMARY\t1\t1\t0\nSNAPSHOT_FACTORY_IMAGE\t0\t0\t12\t${D}`, plan);
    expect(cut.truncated).toBe(true);
    expect(cut.images).toEqual([]);
    const noEnd = parsePullReport(`SNAPSHOT_FACTORY_SUMMARY\t1\t1\t0\nSNAPSHOT_FACTORY_IMAGE\t0\t0\t12\t${D}\n`, plan);
    expect(noEnd.truncated).toBe(true);
    expect(noEnd.images).toHaveLength(1);
    expect(parsePullReport(`${'x'.repeat(SSM_STDOUT_LIMIT - 1)}\nSNAPSHOT_FACTORY_END\n`, plan).truncated).toBe(true);
  });

  it('treats a report whose lines do not add up to its summary as truncated', () => {
    const report = parsePullReport(`SNAPSHOT_FACTORY_SUMMARY\t2\t2\t0\nSNAPSHOT_FACTORY_IMAGE\t0\t0\t12\t${D}\nSNAPSHOT_FACTORY_END\n`, plan);
    expect(report.truncated).toBe(true);
  });

  it('reports the script error line of a script that could not start pulling', () => {
    const report = parsePullReport('SNAPSHOT_FACTORY_SUMMARY\t2\t0\t2\nSNAPSHOT_FACTORY_ERROR\tcould not stop kubelet on the host\nSNAPSHOT_FACTORY_END\n', plan);
    expect(report.error).toBe('could not stop kubelet on the host');
    expect(report.truncated).toBe(false);
  });
});

describe('pull report format', () => {
  it('fits the largest successful build (every image, both platforms, the longest references) with margin', () => {
    // Prepare: the report names images by index, so the references' length does not matter; the digest is "=".
    const images = longestReferences().map(parseImageReference);
    const expectedDigests = images.map((_, n) => `sha512:${String(n).padStart(4, '0')}${'f'.repeat(124)}`);
    // Act
    const budget = successReportMaxChars(MAX_IMAGES, 2);
    const lines = [
      reportLine('summary', [MAX_IMAGES * 2, MAX_IMAGES * 2, 0]),
      ...images.flatMap((_, i) => [0, 1].map((j) => reportLine('image', [i, j, 9_999_999_999_999, EXPECTED_DIGEST_MARK]))),
      reportLine('end', []),
    ];
    const stdout = `${lines.join('\n')}\n`;
    const report = parsePullReport(stdout, reportPlanOf({ images, expectedDigests, platforms: ['linux/amd64', 'linux/arm64'], concurrency: 4 }));
    // Assess
    expect(stdout.length).toBeLessThanOrEqual(budget);
    expect(budget).toBeLessThan(SSM_STDOUT_LIMIT / 2);
    expect(report.images).toHaveLength(MAX_IMAGES * 2);
    expect(report.truncated).toBe(false);
  });

  it('makes the script print every line with the printf format of the shared definition', () => {
    const script = generatePullScript({ images: [parseImageReference('nginx')], platforms: ['linux/amd64'], concurrency: 1 });
    for (const { tag, fields } of Object.values(REPORT_LINES)) {
      expect(script).toContain(`printf '${tag}${'\\t%s'.repeat(fields.length)}\\n'`);
    }
  });

  it('fails when a report line is given the wrong number of fields', () => {
    expect(() => reportLine('image', [0, 0, 12])).toThrow(/SNAPSHOT_FACTORY_IMAGE takes 4 fields/);
  });
});

describe('pull commands', () => {
  it('wrap the bash script in a quoted heredoc that no script line can end early', () => {
    const script = generatePullScript({ images: [parseImageReference('nginx')], platforms: ['linux/amd64'], concurrency: 1 });
    const commands = pullCommands(script);
    expect(commands[1]).toBe("cat >\"$script\" <<'SNAPSHOT_FACTORY_SCRIPT_END'");
    expect(commands.filter((line) => line === 'SNAPSHOT_FACTORY_SCRIPT_END')).toHaveLength(1);
    expect(commands.at(-1)).toBe('exit $status');
  });

  it('fails when an expected digest is not a digest or the lists do not line up', () => {
    const nginx = parseImageReference('nginx');
    expect(() => generatePullScript({ images: [nginx], expectedDigests: ["sha256:';id;'"], platforms: ['linux/amd64'], concurrency: 1 })).toThrow(/expected digest/);
    expect(() => generatePullScript({ images: [nginx], expectedDigests: [D, D], platforms: ['linux/amd64'], concurrency: 1 })).toThrow(/one entry per image/);
  });
});
