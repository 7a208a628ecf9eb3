/**
 * Runs a fuzz campaign in child processes (worker.ts), so that a case that crashes the process
 * (a signal, an abort, an uncaught error) or hangs is reported with its seed, index and
 * description instead of taking the run down; the campaign then goes on from the next case in a
 * fresh worker. Workers run under a memory limit, so that a hostile size fails to allocate
 * instead of exhausting the machine.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import type { Outcome } from './case.js';
import { CHANNEL_FD, type Message } from './protocol.js';

const ROOT = path.resolve(__dirname, '..', '..');
const WORKER = path.join(__dirname, 'worker.ts');
const STDERR_TAIL = 4000;

export interface FuzzOptions {
  seed: number;
  cases: number;
  /** Index of the first case (default 0); `--case I` runs cases [I, I + 1). */
  first?: number;
  /** A case that reports nothing for this long is a hang (default 120 s). */
  caseTimeoutMs?: number;
  /**
   * Limit on the memory a worker allocates (default 8 GiB); 0: none (under AddressSanitizer,
   * whose shadow memory the limit would count; its max_allocation_size_mb bounds hostile sizes).
   */
  memoryLimitMb?: number;
  /** Called as each case ends. */
  onCase?: (index: number, category: string, description: string, outcome: Outcome) => void;
}

export interface CategoryCounts {
  cases: number;
  ok: number;
  /** Rejections with a documented code, by code. */
  rejected: Record<string, number>;
  failures: number;
  crashes: number;
}

export interface Finding {
  index: number;
  category: string;
  description: string;
  kind: 'failure' | 'crash' | 'hang';
  message: string;
}

export interface FuzzReport {
  seed: number;
  first: number;
  cases: number;
  durationMs: number;
  categories: Record<string, CategoryCounts>;
  findings: Finding[];
}

interface WorkerResult {
  /** The first case the worker did not finish (`to` when it finished all). */
  next: number;
  current?: { i: number; category: string; description: string };
  exit: string;
  stderr: string;
  hung: boolean;
}

/** Runs cases [from, to) in one worker until it finishes, crashes or hangs. */
function runWorker(o: Required<Omit<FuzzOptions, 'onCase'>> & Pick<FuzzOptions, 'onCase'>, from: number, to: number, scratch: string,
  onEnd: (m: Extract<Message, { t: 'end' }>, description: string) => void): Promise<WorkerResult> {
  return new Promise((resolve) => {
    const args = ['--import', 'tsx', WORKER, String(o.seed), String(from), String(to), scratch];
    // ulimit -d (private writable memory, in KiB; -v would also count the address space
    // WebAssembly reserves without using); exec keeps the worker's pid, so a signal is reported as the worker's own.
    const limit = o.memoryLimitMb > 0 ? `ulimit -d ${o.memoryLimitMb * 1024} && ` : '';
    const child = spawn('/bin/sh', ['-c', `${limit}exec "$0" "$@"`, process.execPath, ...args],
      { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let next = from;
    let current: WorkerResult['current'];
    let stderr = '';
    let buffered = '';
    let hung = false;
    let timer: NodeJS.Timeout;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        hung = true;
        child.kill('SIGKILL');
      }, o.caseTimeoutMs);
    };
    arm();
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-STDERR_TAIL);
    });
    child.stdio[CHANNEL_FD]!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const m = JSON.parse(buffered.slice(0, nl)) as Message;
        buffered = buffered.slice(nl + 1);
        arm();
        if (m.t === 'start') current = { i: m.i, category: 'unknown', description: '(not generated yet)' };
        if (m.t === 'case') current = { i: m.i, category: m.category, description: m.description };
        if (m.t === 'end') {
          onEnd(m, current?.i === m.i ? current.description : '(generator)');
          next = m.i + 1;
          current = undefined;
        }
      }
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ next, current, exit: signal ? `signal ${signal}` : `exit code ${code}`, stderr, hung });
    });
  });
}

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const o = { first: 0, caseTimeoutMs: 120_000, memoryLimitMb: 8192, ...options };
  const start = Date.now();
  const report: FuzzReport = { seed: o.seed, first: o.first, cases: o.cases, durationMs: 0, categories: {}, findings: [] };
  const counts = (category: string): CategoryCounts => (report.categories[category] ??= { cases: 0, ok: 0, rejected: {}, failures: 0, crashes: 0 });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'da-fuzz-'));
  const end = o.first + o.cases;
  try {
    let from = o.first;
    while (from < end) {
      const w = await runWorker(o, from, end, scratch, (m, description) => {
        const c = counts(m.category);
        c.cases++;
        if (m.outcome.kind === 'ok') c.ok++;
        if (m.outcome.kind === 'rejected') c.rejected[m.outcome.code] = (c.rejected[m.outcome.code] ?? 0) + 1;
        if (m.outcome.kind === 'failure') {
          c.failures++;
          report.findings.push({ index: m.i, category: m.category, description, kind: 'failure', message: m.outcome.message });
        }
        o.onCase?.(m.i, m.category, description, m.outcome);
      });
      if (w.next >= end) break;
      if (!w.current && w.next === from) throw new Error(`a fuzz worker failed before its first case (${w.exit}):\n${w.stderr}`);
      // The worker died in case w.next (or before its first case, if it never started one).
      const at = w.current ?? { i: w.next, category: 'unknown', description: '(the worker died before starting it)' };
      const c = counts(at.category);
      c.cases++;
      c.crashes++;
      report.findings.push({
        index: at.i, category: at.category, description: at.description, kind: w.hung ? 'hang' : 'crash',
        message: `${w.hung ? `no progress for ${o.caseTimeoutMs} ms, killed` : `worker ended with ${w.exit}`}\n${w.stderr.trim()}`,
      });
      from = at.i + 1;
    }
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  report.durationMs = Date.now() - start;
  return report;
}
