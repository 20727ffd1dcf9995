import { GetParameterCommand, PutParameterCommand } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import { ssm } from '../../functions/lib/clients/ssm';
import { createSimulatedAccount } from '../../simulation/aws/account';
import { installSimulatedAws } from '../../simulation/aws/install';

describe('simulated Parameter Store', () => {
  let uninstall: () => void = () => undefined;
  afterEach(() => uninstall());
  const setup = () => {
    const account = createSimulatedAccount();
    uninstall = installSimulatedAws(account.core);
    return account;
  };
  const put = (Name: string, Value: string, extra: Record<string, unknown> = {}) =>
    ssm.send(new PutParameterCommand({ Name, Value, Type: 'String', Overwrite: true, ...extra }));

  it('serves the seeded Bottlerocket AMI parameters', async () => {
    setup();
    const out = await ssm.send(new GetParameterCommand({ Name: '/aws/service/bottlerocket/aws-k8s-1.35/arm64/latest/image_id' }));
    expect(out.Parameter?.Value).toMatch(/^ami-/);
  });

  it('fails with ParameterNotFound for an unknown name', async () => {
    setup();
    await expect(ssm.send(new GetParameterCommand({ Name: '/nope' }))).rejects.toMatchObject({ name: 'ParameterNotFound' });
  });

  it('rejects a standard value over 4 KB and stores it as Advanced under Intelligent-Tiering', async () => {
    setup();
    const big = 'x'.repeat(5000);
    await expect(put('/p', big)).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(put('/p', big, { Tier: 'Intelligent-Tiering' })).resolves.toMatchObject({ Tier: 'Advanced' });
    await expect(put('/p', 'x'.repeat(9000), { Tier: 'Advanced' })).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('refuses to turn an advanced parameter back into a standard one', async () => {
    setup();
    await put('/p', 'x'.repeat(5000), { Tier: 'Advanced' });
    await expect(put('/p', 'small', { Tier: 'Standard' })).rejects.toThrow(/cannot be changed to a standard parameter/);
    await expect(put('/p', 'small', { Tier: 'Intelligent-Tiering' })).resolves.toMatchObject({ Tier: 'Advanced' });
  });

  it('refuses to overwrite without Overwrite', async () => {
    setup();
    await put('/p', 'a');
    await expect(ssm.send(new PutParameterCommand({ Name: '/p', Value: 'b', Type: 'String' }))).rejects.toMatchObject({
      name: 'ParameterAlreadyExists',
    });
  });
});
