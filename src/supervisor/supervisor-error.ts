/**
 * supervisor-error: errors of the supervisor and its control socket, each
 * with a stable code and a one-line message fit for "postrider: fatal: ...".
 */

export type SupervisorErrorCode =
  | 'ERR_ALREADY_RUNNING'
  | 'ERR_CONFIG_INVALID'
  | 'ERR_NOT_READY'
  | 'ERR_SETUP_FAILED'
  | 'ERR_NO_SUCH_ACTOR'
  | 'ERR_FAULT_DISABLED'
  | 'ERR_BAD_REQUEST'
  | 'ERR_STOPPING'
  | 'ERR_RESTART_INTENSITY'
  | 'ERR_NO_SALT'
  | 'ERR_RELOAD_FAILED';

export class SupervisorError extends Error {
  constructor(
    readonly code: SupervisorErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SupervisorError';
  }
}
