/**
 * The one error type of the package. Every failure the library reports, from argument validation in
 * TypeScript or from native code, is a {@link DiffusionAttentionError} whose `code` says what went
 * wrong; callers can switch on `code` without parsing messages.
 */

/** Documented error codes. */
export type ErrorCode =
  /** A shape is invalid, or does not match the data or another operand. */
  | 'E_SHAPE'
  /** An unknown dtype, or data whose element type does not match the dtype. */
  | 'E_DTYPE'
  /** An unknown device, or operands on different devices. */
  | 'E_DEVICE'
  /** CUDA was requested but this binary or this machine cannot provide it. */
  | 'E_NO_CUDA'
  /** A tensor was used after `dispose()`. */
  | 'E_DISPOSED'
  /** A weights or config file is malformed or unsupported. */
  | 'E_MODEL_FORMAT'
  /** Memory could not be allocated, or a request exceeds a configured limit. */
  | 'E_RESOURCE'
  /** A CUDA runtime call failed. */
  | 'E_CUDA'
  /** No native binary could be loaded (see the message for what was tried). */
  | 'E_LOAD'
  /** A file could not be read or written (the message names it). */
  | 'E_IO'
  /** An option or argument is invalid (the message names it). */
  | 'E_INVALID_ARGUMENT'
  /** A bug in this package; please report it with the message. */
  | 'E_INTERNAL';

const CODES: ReadonlySet<string> = new Set<ErrorCode>([
  'E_SHAPE', 'E_DTYPE', 'E_DEVICE', 'E_NO_CUDA', 'E_DISPOSED', 'E_MODEL_FORMAT', 'E_RESOURCE', 'E_CUDA',
  'E_LOAD', 'E_IO', 'E_INVALID_ARGUMENT', 'E_INTERNAL',
]);

/** An error raised by diffusion-attention; `code` is one of {@link ErrorCode}. */
export class DiffusionAttentionError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DiffusionAttentionError';
    this.code = code;
  }
}

/**
 * Re-raises a failure of a native call as a {@link DiffusionAttentionError} carrying the stack of
 * `site`, an Error created where the user called the API (so the stack shows their code, not the
 * event loop). Errors that already are DiffusionAttentionError keep their code.
 */
export function fromNative(err: unknown, site: Error): DiffusionAttentionError {
  const code = (err as { code?: unknown })?.code;
  const message = err instanceof Error ? err.message : String(err);
  const out = err instanceof DiffusionAttentionError
    ? err
    : new DiffusionAttentionError(typeof code === 'string' && CODES.has(code) ? (code as ErrorCode) : 'E_INTERNAL', message, { cause: err });
  const siteStack = site.stack?.split('\n').slice(1).join('\n');
  if (siteStack) out.stack = `${out.name}: ${out.message}\n${siteStack}`;
  return out;
}

/** Calls a synchronous native function, converting what it throws with {@link fromNative}. */
export function callNative<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const site = new Error();
    Error.captureStackTrace(site, callNative);
    throw fromNative(err, site);
  }
}

/** Awaits an asynchronous native call, converting a rejection with {@link fromNative}. */
export async function awaitNative<T>(fn: () => Promise<T>): Promise<T> {
  const site = new Error();
  Error.captureStackTrace(site, awaitNative);
  try {
    return await fn();
  } catch (err) {
    throw fromNative(err, site);
  }
}
