/**
 * The factory settings examples of the documentation, found by their marker so that a new example is checked
 * without anyone listing it:
 *
 * - a fenced block whose info string is `json snapshotFactory` (GitHub still highlights it as JSON), holding a
 *   cdk.json (`{"context":{"snapshotFactory":{...}}}`), an object `{"snapshotFactory":{...}}`, the member as it
 *   sits in cdk.json's context (`"snapshotFactory": {...}`), or the settings object itself;
 * - every `-c snapshotFactory='<json>'` on a command line, read as the CDK CLI passes it (a string).
 *
 * A ```json block that mentions "snapshotFactory" without the marker is reported as unmarked, so an example
 * cannot slip past by a missing marker.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTEXT_KEY, settingsFromContext } from '../../infra/config';

export const SETTINGS_BLOCK_INFO = `json ${CONTEXT_KEY}`;

export interface SettingsExample {
  /** Document and line, e.g. `docs/recipes.md:42 (block 1)`. */
  readonly where: string;
  /** The settings, or why the block could not be read as settings. */
  readonly settings?: Record<string, unknown>;
  readonly problem?: string;
}

const root = join(import.meta.dirname, '..', '..');

/** README.md and every docs/*.md, relative to the project root. */
export const documentationFiles = (): string[] => [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];

interface Fence {
  readonly info: string;
  readonly line: number;
  readonly body: string;
}

const fencesOf = (markdown: string): Fence[] => {
  const fences: Fence[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, , marker, info] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !lines[j]!.trim().startsWith(marker)) body.push(lines[j++]!);
    fences.push({ info: info.trim(), line: i + 1, body: body.join('\n') });
    i = j;
  }
  return fences;
};

const settingsOfBlock = (body: string): Record<string, unknown> => {
  const text = body.trim();
  const parsed: unknown = JSON.parse(text.startsWith(`"${CONTEXT_KEY}"`) ? `{${text}}` : text);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
  const object = parsed as Record<string, unknown>;
  const context = object.context as Record<string, unknown> | undefined;
  const value = context && CONTEXT_KEY in context ? context[CONTEXT_KEY] : CONTEXT_KEY in object ? object[CONTEXT_KEY] : object;
  return settingsFromContext(value).settings;
};

/** Every settings example of the documentation, in document order. */
export const settingsExamples = (files: string[] = documentationFiles()): SettingsExample[] =>
  files.flatMap((file) => examplesOf(file, readFileSync(join(root, file), 'utf8')));

/** The settings examples of one markdown text (`file` names it in `where`). */
export const examplesOf = (file: string, markdown: string): SettingsExample[] => {
  const examples: SettingsExample[] = [];
  let block = 0;
  for (const fence of fencesOf(markdown)) {
    if (fence.info === SETTINGS_BLOCK_INFO) {
      const where = `${file}:${fence.line} (settings block ${++block})`;
      try {
        examples.push({ where, settings: settingsOfBlock(fence.body) });
      } catch (error) {
        examples.push({ where, problem: `not readable as factory settings: ${(error as Error).message}` });
      }
    } else if (fence.info.split(/\s+/)[0] === 'json' && fence.body.includes(`"${CONTEXT_KEY}"`)) {
      examples.push({ where: `${file}:${fence.line}`, problem: `a json block mentions "${CONTEXT_KEY}" but its info string is not "${SETTINGS_BLOCK_INFO}": mark it so it is checked` });
    }
  }
  const lineOf = (index: number) => markdown.slice(0, index).split('\n').length;
  for (const match of markdown.matchAll(new RegExp(`-c ${CONTEXT_KEY}='([^']*)'`, 'g'))) {
    const where = `${file}:${lineOf(match.index)} (-c ${CONTEXT_KEY}=...)`;
    try {
      examples.push({ where, settings: settingsFromContext(match[1]).settings });
    } catch (error) {
      examples.push({ where, problem: (error as Error).message });
    }
  }
  return examples;
};
