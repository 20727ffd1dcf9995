/**
 * zod's tree-shakeable build (`zod/mini`) with its English messages, for every schema a function bundles: the
 * settings and the execution input (build-defaults.ts, recipes.ts, lifecycle-settings.ts, fast-snapshot-restore.ts,
 * snapshot-copies.ts, prepare-build), the data passed between the states (schemas.ts) and each stage's input.
 *
 * Why not `zod`: its classic schemas carry every method, JSON Schema conversion included, whether a function uses them
 * or not (about 60 KiB of each bundle); mini's functions are marked side-effect free, so a bundle keeps only the
 * ones it calls (zod's docs, "Zod Mini"). Both share zod's core, so a mini schema nests in a classic one and the
 * messages are the same text: mini loads no locale by itself (classic's `zod` entry runs `config(en())`,
 * zod v4/classic/external.js), so this module does it, and every mini user imports zod through it.
 */
import { config, int, number, type core } from 'zod/mini';
import { en } from 'zod/locales';

config(en());

export * from 'zod/mini';

/**
 * An integer with these checks: classic zod's `z.number().int()` followed by its `.min()`, `.max()`, `.positive()`...,
 * with the same messages. Not in zod/mini itself (its `z.int()` alone is the integer check).
 *
 * @example z.integer(z.gte(1), z.lte(32)).parse(4) // 4
 */
export const integer = (...checks: core.$ZodCheck<number>[]) => number().check(int(), ...checks);
