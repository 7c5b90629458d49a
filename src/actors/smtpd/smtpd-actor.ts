/**
 * smtpd actor entry: keeps node:http out of the thread (smtpd-quiet-logger),
 * then loads the actor itself (smtpd-serve.ts). The hook must be in place
 * before smtp-server is resolved, and a static import would resolve it
 * first, hence the dynamic import.
 */
import { quietSmtpServerLogger } from './smtpd-quiet-logger.js';

quietSmtpServerLogger();
await import('./smtpd-serve.js');
