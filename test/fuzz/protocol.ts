/**
 * Messages from a fuzz worker to its supervisor, one JSON object per line on file descriptor 3
 * (stdout and stderr stay free for whatever the library or its dependencies print). `start` is
 * written before a case is generated and `case` before it runs, synchronously, so that after a
 * crash the supervisor knows the case that caused it.
 */
import type { Outcome } from './case.js';

export const CHANNEL_FD = 3;

export type Message =
  | { t: 'start'; i: number }
  | { t: 'case'; i: number; category: string; description: string }
  | { t: 'end'; i: number; category: string; outcome: Outcome };
