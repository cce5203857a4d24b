// What an action (a probe command, a quarantine, a kill) came to: the one
// answer shape that responses, the control API and alerts pass along.
export interface CommandResult {
  ok: boolean;
  /** Why not, when !ok. */
  error: string;
  /** What was done, when ok. */
  detail: string;
}
