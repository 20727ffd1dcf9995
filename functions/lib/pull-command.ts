/**
 * The `commands` parameter send-pull-command sends to the builder, and the size check that goes with it: shared by
 * send-pull-command (which sends it) and prepare-build (which refuses an image list too large for it before anything
 * is launched), so the two cannot disagree.
 *
 * The limit: SSM's SendCommand model (botocore data/ssm/2014-11-06/service-2.json) gives the Parameters map no size
 * of its own; the one size error SendCommand lists is `MaxDocumentSizeExceeded`, "The size limit of a document is
 * 64 KB" (the same text on the API reference's Errors of SendCommand). The parameters are resolved into the
 * document, so what we send stays under 64 KiB with room for `AWS-RunShellScript`'s own text and the other parameter.
 */
import { InvalidInputError } from './errors';
import { parseImageReference } from './image-reference';
import { generatePullScript, pullCommands } from './pull-script';
import type { Image } from './schemas';

/** SSM's document size limit (MaxDocumentSizeExceeded, botocore's SSM model). */
export const SSM_DOCUMENT_MAX_BYTES = 64 * 1024;
/** Bytes of `commands` (as JSON) we send at most: 4 KiB under {@link SSM_DOCUMENT_MAX_BYTES} for the document's own text. */
export const MAX_COMMANDS_BYTES = 60 * 1024;

/** What the pull command of a build is made from: what send-pull-command receives in `build`. */
export interface PullCommandInput {
  images: readonly Pick<Image, 'reference' | 'digest'>[];
  platforms: readonly string[];
  concurrency: number;
}

/** The pull command and its size as SSM receives it (UTF-8 bytes of the JSON array). */
export interface PullCommand {
  commands: string[];
  bytes: number;
}

/**
 * Generates the pull script (functions/lib/pull-script.ts) from validated references and wraps it for
 * `AWS-RunShellScript`. The script refuses a pull whose digest is not the one prepare-build resolved.
 *
 * @throws InvalidImageReferenceError when a reference is invalid; InvalidInputError from the script generator.
 */
export const pullCommandOf = (input: PullCommandInput): PullCommand => {
  const script = generatePullScript({
    images: input.images.map((image) => parseImageReference(image.reference)),
    expectedDigests: input.images.map((image) => image.digest),
    platforms: input.platforms,
    concurrency: input.concurrency,
  });
  const commands = pullCommands(script);
  return { commands, bytes: Buffer.byteLength(JSON.stringify(commands)) };
};

/**
 * The pull command of a build, refused when it is larger than one SSM command carries.
 *
 * @throws InvalidInputError naming the image count, the size and the limit.
 * @example pullCommandThatFits({ images: [{ reference: 'nginx:1.27' }], platforms: ['linux/amd64'], concurrency: 4 }).commands[0]
 */
export const pullCommandThatFits = (input: PullCommandInput, what = 'the pull script'): PullCommand => {
  const command = pullCommandOf(input);
  if (command.bytes > MAX_COMMANDS_BYTES) {
    throw new InvalidInputError(
      `${what} for ${input.images.length} images (${input.platforms.join(', ')}) is ${command.bytes} bytes, more than one SSM command carries ` +
        `(${MAX_COMMANDS_BYTES} bytes, under SSM's 64 KB document limit): list fewer or shorter image references, or split them into several recipes`,
    );
  }
  return command;
};
