// asl-validator 4 ships no type declarations.
declare module 'asl-validator' {
  interface AslValidatorOptions {
    checkPaths?: boolean;
    checkArn?: boolean;
  }
  interface AslValidatorResult {
    isValid: boolean;
    errors: unknown[];
    errorsText: (separator?: string) => string;
  }
  /** Validates a definition; mutates its argument (pass a clone). Passing options replaces all defaults. */
  export default function aslValidator(definition: unknown, options?: AslValidatorOptions): AslValidatorResult;
}
