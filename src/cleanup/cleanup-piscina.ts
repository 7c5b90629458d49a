/**
 * cleanup-piscina: piscina, loaded when cleanup first starts a pool (body
 * checks, DKIM signing and ARC sealing): a thread whose configuration uses
 * neither never loads it. loadPiscina() resolves to the Piscina class; it
 * rejects only when the package cannot be loaded.
 */
import type { Piscina } from 'piscina';

let loading: Promise<typeof Piscina> | undefined;

export function loadPiscina(): Promise<typeof Piscina> {
  return (loading ??= import('piscina').then((m) => m.Piscina));
}
