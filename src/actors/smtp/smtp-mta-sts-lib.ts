/**
 * smtp-mta-sts-lib: mailauth's MTA-STS functions, loaded with a thread's
 * first policy lookup. mailauth's shared tools bring joi, libmime, tldts
 * and an HTTP client with them: loading them made an smtp thread's start
 * about 150-200 ms longer and its heap 9 MiB larger, which a configuration
 * without MTA-STS never uses.
 *
 * loadMtaSts() loads once per thread; mtaStsLoaded() is for the synchronous
 * steps that only ever run on a policy, which a load produced.
 */
type MtaSts = typeof import('mailauth/lib/mta-sts.js');

let lib: MtaSts | undefined;
let loading: Promise<MtaSts> | undefined;

/** mailauth's MTA-STS module, loaded on first use. */
export function loadMtaSts(): Promise<MtaSts> {
  loading ??= import('mailauth/lib/mta-sts.js').then((m) => (lib = m));
  return loading;
}

/** The module a policy lookup loaded; a policy in hand means it is there. */
export function mtaStsLoaded(): MtaSts {
  if (!lib) throw new Error('MTA-STS: mailauth used before a policy lookup loaded it');
  return lib;
}
