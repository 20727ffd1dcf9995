/** Shared by the settings tests: the message of the InvalidSettingsError that parseSettings throws for `raw`. */
import { expect } from 'vitest';
import { InvalidSettingsError, parseSettings } from '../../infra/config';

/** The validation message for settings that must be rejected; fails the test when they are accepted. */
export const settingsFailure = (raw: unknown): string => {
  try {
    parseSettings(raw, 'test settings');
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidSettingsError);
    return (error as Error).message;
  }
  throw new Error('expected the settings to be rejected');
};
