/**
 * A worker thread for test/workers.test.ts: loads its own pipeline from `workerData.model`,
 * generates `workerData.options` and posts `{ started: true }` at the first progress event, then
 * the images' raw RGB bytes (or the error's code and message).
 */
import { parentPort, workerData } from 'node:worker_threads';

import { loadPipeline, type GenerateOptions } from '../../ts/index.js';

interface Job {
  model: string;
  options: GenerateOptions;
}

async function main(): Promise<void> {
  const { model, options } = workerData as Job;
  const pipe = await loadPipeline(model);
  try {
    let started = false;
    const result = await pipe.generate({
      ...options,
      onProgress: () => {
        if (!started) parentPort!.postMessage({ started: (started = true) });
      },
    });
    parentPort!.postMessage({ data: result.images.map((image) => image.raw().data) });
  } finally {
    await pipe.close();
  }
}

main().catch((err: Error & { code?: string }) => parentPort!.postMessage({ error: `${err.code ?? ''} ${err.message}` }));
