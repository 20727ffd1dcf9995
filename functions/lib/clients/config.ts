/**
 * What every SDK client of the factory shares. One file per service (`ec2.ts`, `ssm.ts`, ...) creates that
 * service's client once per Lambda container (module scope), so a function's bundle loads and builds only the
 * clients it imports: loading `@aws-sdk/client-ec2` alone costs a cold start tens of milliseconds
 * (`npm run bench -- bundles`, init time). Handlers' logic takes clients as arguments where tests need to swap
 * them; the simulated AWS (simulation/aws/install.ts) intercepts these very clients, so handlers run unchanged.
 *
 * The SDK's own retry (standard mode, 3 attempts) absorbs short throttling bursts inside one invocation; what
 * still fails becomes `TransientAwsError` and the state machine retries with backoff.
 */
export const SDK_CLIENT_CONFIG = { maxAttempts: 3, retryMode: 'standard' } as const;
