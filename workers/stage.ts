/**
 * Stage worker: attaches the shared slot pool (and parameters), then computes each job in
 * place and answers with its reply (`serveJobs`: an exception is answered too, so the pipeline
 * ends the run with it instead of hanging).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { StageRunner } from "../lib/pipeline/compute.ts";
import type { Job, Reply, StageInit } from "../lib/pipeline/protocol.ts";
import { serveJobs } from "../lib/pipeline/workers.ts";
import { adoptKernelModule } from "../lib/kernels/arena.ts";

let runner: StageRunner | null = null;

serveJobs<StageInit, Job, Reply>((init, progress) => {
  if (init.kernels) adoptKernelModule(init.kernels);
  // progress within a long batch goes to the pipeline between replies
  runner = new StageRunner(init, progress);
}, (job) => runner!.run(job));
