/**
 * Trace worker: builds a model on the main thread's shared parameters with its own activations
 * and one block's gradients, then answers each sequence with its record, its share of the
 * summary and, when asked, its logits and hidden states (`serveJobs`: an exception is answered
 * too, so a trace ends instead of hanging).
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { CharLM } from "../lib/train/lm.ts";
import { Tracer } from "../lib/train/trace.ts";
import { adoptKernelModule } from "../lib/kernels/arena.ts";
import { serveJobs } from "../lib/pipeline/workers.ts";
import type { TraceJob, TraceReply, TraceWorkerInit } from "../lib/train/protocol.ts";

let lm: CharLM | null = null;
let tracer: Tracer | null = null;

serveJobs<TraceWorkerInit, TraceJob, TraceReply>((init) => {
  if (init.kernels) adoptKernelModule(init.kernels);
  lm = new CharLM(init.config, init.share, {
    gradients: "block",
    activations: init.activations,
  });
  tracer = new Tracer(lm, { top: init.top });
}, (job) => {
  if (job.type === "ready") return {};
  const { nLayer: L, nEmbd: C } = lm!.gpt.config, T = job.ids.length;
  const logits = job.logits ? new Float32Array(T * lm!.vocab) : undefined;
  const hidden = job.hidden ? new Float32Array((L + 1) * T * C) : undefined;
  const { record, part } = tracer!.measure(job.ids, job.index, { logits, hidden });
  return { record, part, logits, hidden };
});
