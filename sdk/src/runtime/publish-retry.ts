// A JetStream publish that outlasts a stream leader election. While a stream has no leader (a node
// killed, paused or partitioned) publishes fail with 503 or time out for a few seconds; a job that
// gave up then would fail its attempt and run again whole, every shard of a split export included.
import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamClient, JetStreamPublishOptions, PubAck } from "nats";

export interface PublishRetry {
  /** Give up after this long (a job's claim lasts ack_wait; its in-progress acks go on meanwhile). */
  withinMs: number;
  /** Stop trying when aborted (the attempt was fenced or canceled). */
  signal?: AbortSignal;
}

/**
 * Publishes, trying again with backoff (250 ms doubling to 2 s) until `withinMs` has passed. Give
 * the message a `msgID`: a publish that landed but whose answer was lost is then not stored twice.
 */
export async function publishRetrying(
  js: JetStreamClient,
  subject: string,
  data: Uint8Array,
  options: Partial<JetStreamPublishOptions>,
  retry: PublishRetry,
): Promise<PubAck> {
  const deadline = Date.now() + retry.withinMs;
  for (let delay = 250; ; delay = Math.min(delay * 2, 2000)) {
    try {
      return await js.publish(subject, data, options);
    } catch (err) {
      if (retry.signal?.aborted || Date.now() + delay > deadline) throw err;
      await sleep(delay);
    }
  }
}
