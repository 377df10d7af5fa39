/**
 * Worker entry point: attaches the shared slot pool (and parameters), then
 * computes each job in place and answers with its reply. An exception is
 * answered too, so the pipeline can end the run with it instead of hanging.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { StageRunner } from "../lib/pipeline/compute.ts";
import type { Job, Reply, StageInit } from "../lib/pipeline/protocol.ts";
import { adoptKernelModule } from "../lib/kernels/arena.ts";

let runner: StageRunner | null = null;

self.onmessage = (e: MessageEvent<StageInit | Job>) => {
  const m = e.data;
  try {
    if (m.type === "init") {
      // progress within a long batch goes to the pipeline between replies
      if (m.kernels) adoptKernelModule(m.kernels);
      runner = new StageRunner(
        m,
        (slot, fraction) => self.postMessage({ progress: fraction, slot }),
      );
      return;
    }
    self.postMessage(runner!.run(m));
  } catch (err) {
    const reply: Reply = {
      slot: m.type === "job" ? m.slot : -1,
      tokens: 0,
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    };
    self.postMessage(reply);
  }
};
