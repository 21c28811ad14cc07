/**
 * The words of every way a run can fail, in one place, so the executor and
 * the task API show users the same message for the same failure.
 */
import { GamedockError, isGamedockError } from "../../core/index.js";
import type { RunError } from "./contract.js";
import type { ToolExit } from "./process-group.js";

/** A caught value as the result's `error` (unknown failures are E_INTERNAL). */
export function asRunError(err: unknown): RunError {
  if (isGamedockError(err)) return err.toJSON();
  const message = err instanceof Error ? err.message : String(err);
  return { code: "E_INTERNAL", message: `the run failed unexpectedly: ${message}` };
}

/** Before the tool started: the signal's reason when it is ours, else E_CANCELLED. */
export function cancelledBeforeStart(signal: AbortSignal): GamedockError {
  const reason: unknown = signal.reason;
  if (isGamedockError(reason)) return reason;
  return new GamedockError("E_CANCELLED", "the run was cancelled before the tool started");
}

/** While the tool ran: the same choice, as a result's error. */
export function cancelledWhileRunning(signal: AbortSignal): RunError {
  const reason: unknown = signal.reason;
  if (isGamedockError(reason)) return reason.toJSON();
  return { code: "E_CANCELLED", message: "the run was cancelled and the tool was stopped" };
}

export function timedOut(timeoutMs: number): RunError {
  return {
    code: "E_TASK_TIMEOUT",
    message: `the tool ran longer than timeoutMs (${timeoutMs} ms) and was stopped`,
    details: { timeoutMs },
  };
}

export function sandboxTooLarge(used: number, maxSandboxBytes: number): RunError {
  return {
    code: "E_LIMIT",
    message: `the sandbox grew to ${used} bytes, more than maxSandboxBytes (${maxSandboxBytes}); the tool was stopped`,
    details: { limit: "maxSandboxBytes", max: maxSandboxBytes, actual: used },
  };
}

export function exitedBadly(exit: ToolExit): RunError {
  const message =
    exit.code === null
      ? `the tool was killed by signal ${exit.signal ?? "unknown"}`
      : `the tool exited with code ${exit.code}`;
  return {
    code: "E_EXIT_NONZERO",
    message,
    details: { exitCode: exit.code, signal: exit.signal },
  };
}

export function launcherLost(): RunError {
  return {
    code: "E_INTERNAL",
    message:
      "the executor's tool launcher died while the tool ran; the tool was killed (see the executor's log)",
  };
}
