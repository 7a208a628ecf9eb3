/** A bad command-line argument found after commander's own parsing: exit code 2 with a help hint. */
export class UsageError extends Error {
  constructor(readonly command: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}
