#!/usr/bin/env node
// The installed command. The CLI is TypeScript, run through tsx's loader, so `local` can run the simulation's
// handlers from their sources exactly as `npm run simulate` does (docs/cli.md, "Installing").
import { register } from 'tsx/esm/api';

register();
await import('../cli/snapshot-factory.ts');
