/**
 * Train worker: builds a model on the trainer's shared parameters with a gradient buffer of
 * its own, then answers each shard job with the shard's loss (its gradient left in the buffer
 * for the trainer to add), and the `grads` job with that buffer (`serveJobs`: an exception is
 * answered too, so a run ends instead of hanging).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { CharLM } from "../lib/train/lm.ts";
import { adoptKernelModule } from "../lib/kernels/arena.ts";
import { serveJobs } from "../lib/pipeline/workers.ts";
import type { ShardJob, ShardReply, TrainWorkerInit } from "../lib/train/protocol.ts";

let lm: CharLM | null = null;

serveJobs<TrainWorkerInit, ShardJob, ShardReply>((init) => {
  if (init.kernels) adoptKernelModule(init.kernels);
  lm = new CharLM(init.config, init.share);
}, (job) => {
  if (job.type === "grads") return { grads: lm!.grads };
  if (job.type === "loss") return { loss: lm!.loss(job.x, job.y, job.B, job.T) };
  lm!.zeroGrad();
  return { loss: lm!.lossAndGrad(job.x, job.y, job.B, job.T, job.over) };
});
