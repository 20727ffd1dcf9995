import { describe, expect, it } from 'vitest';
import { parseImageReference } from '../../functions/lib/image-reference';
import { generatePullScript, parsePullReport, pullCommands, SSM_STDOUT_LIMIT } from '../../functions/lib/pull-script';

const D = `sha256:${'c'.repeat(64)}`;

describe('pull report parser', () => {
  it('reads the summary, disk, failure and image lines and ignores anything else', () => {
    const stdout = [
      'SNAPSHOT_FACTORY_SUMMARY\t3\t1\t2',
      'SNAPSHOT_FACTORY_DISK\t10737418240\t104857600\t5368709120',
      'SNAPSHOT_FACTORY_FAILED\tdocker.io/library/a:1\tlinux/amd64\tctr: no space left on device',
      'SNAPSHOT_FACTORY_FAILED\tdocker.io/library/b:1\tlinux/amd64\tnot pulled: the data volume is full',
      'some noise a command printed',
      `SNAPSHOT_FACTORY_IMAGE\tdocker.io/library/c:1\tlinux/amd64\t${D}\t1234`,
      `SNAPSHOT_FACTORY_IMAGE\tdocker.io/library/d:1\tlinux/amd64\t${D}\tnot-a-number`,
      '',
    ].join('\n');
    const report = parsePullReport(stdout);
    expect(report.summary).toEqual({ expected: 3, ok: 1, failed: 2 });
    expect(report.disk).toEqual({ neededBytes: 10737418240, freeBytes: 104857600, totalBytes: 5368709120 });
    expect(report.failures.map((f) => f.reference)).toEqual(['docker.io/library/a:1', 'docker.io/library/b:1']);
    expect(report.images).toEqual([{ reference: 'docker.io/library/c:1', platform: 'linux/amd64', digest: D, sizeBytes: 1234 }]);
    expect(report.truncated).toBe(false);
  });

  it('treats output that stops mid-line or fills the SSM limit as truncated, and drops the cut line', () => {
    const cut = parsePullReport(`SNAPSHOT_FACTORY_SUMMARY\t1\t1\t0\nSNAPSHOT_FACTORY_IMAGE\tdocker.io/library/c:1\tlinux/amd64\t${D}\t12`);
    expect(cut.truncated).toBe(true);
    expect(cut.images).toEqual([]);
    expect(parsePullReport(`${'x'.repeat(SSM_STDOUT_LIMIT - 1)}\n`).truncated).toBe(true);
  });

  it('reports the script error line of a script that could not start pulling', () => {
    expect(parsePullReport('SNAPSHOT_FACTORY_SUMMARY\t2\t0\t2\nSNAPSHOT_FACTORY_ERROR\tcould not stop kubelet on the host\n').error).toBe(
      'could not stop kubelet on the host',
    );
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
