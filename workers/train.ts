/**
 * Train worker: builds a model on the trainer's shared parameters with a gradient buffer of
 * its own, then answers each shard job with the shard's loss (its gradient left in the
 * buffer for the trainer to add). An exception is answered too, so a run ends instead of
 * hanging.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { CharLM } from "../lib/train/lm.ts";
import { adoptKernelModule } from "../lib/kernels/arena.ts";
import type { ShardJob, ShardReply, TrainWorkerInit } from "../lib/train/protocol.ts";

let lm: CharLM | null = null;

self.onmessage = (e: MessageEvent<TrainWorkerInit | ShardJob>) => {
  const m = e.data;
  let reply: ShardReply;
  try {
    if (m.type === "init") {
      if (m.kernels) adoptKernelModule(m.kernels);
      lm = new CharLM(m.config, m.share);
      reply = { grads: lm.grads };
    } else if (m.type === "loss") {
      reply = { loss: lm!.loss(m.x, m.y, m.B, m.T) };
    } else {
      lm!.zeroGrad();
      reply = { loss: lm!.lossAndGrad(m.x, m.y, m.B, m.T, m.over) };
    }
  } catch (err) {
    reply = { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  self.postMessage(reply);
};
