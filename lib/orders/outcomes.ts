/**
 * How the outcome of a request is reported at each boundary: an HTTP status and body for REST, an
 * ack / dead-letter / requeue for RabbitMQ. One table, so both channels say the same thing.
 *
 * @module
 */

import type { IntakeOutcome } from "../intake/rabbitmq.ts";
import type { CancelOutcome, SubmitOutcome } from "./executor.ts";
import { formatFieldErrors } from "./request_schema.ts";

/** An HTTP answer. */
export interface HttpAnswer {
  status: 200 | 202 | 400 | 404 | 409 | 503;
  body: Record<string, unknown>;
}

/**
 * REST: 202 + the record (accepted, or the same request again); 400 with the field errors (schema) or the
 * refusal (rules: code, field, message) and the recorded order; 409 for a reused `order_id` with other
 * content or a cancel of a finished order; 404 unknown order; 503 when the service cannot trade or record
 * now (broker not ready, standby instance, database down).
 */
export function httpAnswer(outcome: SubmitOutcome | CancelOutcome): HttpAnswer {
  switch (outcome.kind) {
    case "accepted":
      return {
        status: 202,
        body: { order: outcome.record, duplicate: outcome.duplicate, warnings: outcome.warnings },
      };
    case "invalid":
      return {
        status: 400,
        body: { error: formatFieldErrors(outcome.errors), errors: outcome.errors, order: outcome.record },
      };
    case "refused": {
      const unavailable = ["NOT_CONNECTED", "RECONCILING", "STOPPED", "NOT_LEADER"].includes(
        outcome.refusal.code,
      );
      return {
        status: unavailable ? 503 : 400,
        body: {
          error: `${outcome.refusal.code}: ${outcome.refusal.message}`,
          code: outcome.refusal.code,
          field: outcome.refusal.field,
          order: outcome.record,
        },
      };
    }
    case "conflict":
      return {
        status: 409,
        body: {
          error: `order_id ${outcome.record.id} is already used by a different request`,
          order: outcome.record,
        },
      };
    case "unavailable":
      return {
        status: 503,
        body: { error: outcome.message, code: outcome.code ?? "DATABASE_UNAVAILABLE", retry: true },
      };
    case "sent":
      return { status: 202, body: { order: outcome.record, cancel: "sent" } };
    case "not_found":
      return { status: 404, body: { error: `no order ${outcome.order_id}` } };
    case "finished":
      return {
        status: 409,
        body: {
          error: `order ${outcome.record.id} is already ${outcome.record.status}`,
          order: outcome.record,
        },
      };
  }
}

/**
 * RabbitMQ: ack once the outcome is recorded (accepted, refused by a rule, duplicate, cancel answered);
 * dead-letter what can never succeed (schema errors, reused ids, cancel of an unknown order) with the
 * reason; requeue when nothing could be recorded (database down) so the message is not lost.
 */
export function intakeAnswer(outcome: SubmitOutcome | CancelOutcome): IntakeOutcome {
  switch (outcome.kind) {
    case "accepted":
    case "refused":
    case "sent":
    case "finished":
      return { action: "ack" };
    case "invalid":
      return { action: "dead_letter", reason: formatFieldErrors(outcome.errors), fields: outcome.errors };
    case "conflict":
      return {
        action: "dead_letter",
        reason: `order_id ${outcome.record.id} is already used by a different request`,
        fields: [{ field: "order_id", message: "reused with different content" }],
      };
    case "not_found":
      return {
        action: "dead_letter",
        reason: `cancel: no order ${outcome.order_id}`,
        fields: [{ field: "order_id", message: "unknown order" }],
      };
    case "unavailable":
      return { action: "requeue", reason: outcome.message, transient: true };
  }
}
