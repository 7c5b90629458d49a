/**
 * cleanup-sign-task: one signing job, DKIM signatures or an ARC set, done
 * with mailauth over the message as it goes into the queue: the piscina
 * task of cleanup-sign-worker, so neither the private-key work (RSA: a
 * millisecond or more) nor mailauth's parsing holds up the SMTP sessions
 * of the thread that runs cleanup.
 * Never throws: a key mailauth cannot use, or any failure, comes back as
 * { error }; an ARC chain whose newest seal already says cv=fail is
 * { skipped } (RFC 8617 section 5.1, step 2: such a chain is not sealed again).
 */
/**
 * mailauth, loaded on first use: it takes hundreds of milliseconds of CPU
 * to load, which every thread that runs cleanup (smtpd, pickup, bounce,
 * local) would pay at start; only the pool's threads load it.
 */
const loadMailauth = (): Promise<typeof import('mailauth')> => import('mailauth');

/** One key as the task needs it. */
export interface TaskKey {
  domain: string;
  selector: string;
  pem: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
}

export interface SignTask {
  kind: 'dkim' | 'arc';
  content: Uint8Array;
  keys: TaskKey[];
  /** "relaxed/relaxed" and the like. */
  canonicalization: string;
  headerList: string[];
  /** Milliseconds since the epoch: the t= of every signature. */
  signTime: number;
  /** ARC only: the chain validation result (cv=) and the Authentication-Results payload. */
  cv?: string;
  authResults?: string;
}

/** The header lines to prepend, each ending with CRLF; or why none could be made; or why none is due. */
export type SignTaskResult = { headers: string } | { error: string } | { skipped: string };

export async function runSignTask(task: SignTask): Promise<SignTaskResult> {
  try {
    const { dkimSign, createSeal } = await loadMailauth();
    const content = Buffer.from(task.content.buffer, task.content.byteOffset, task.content.byteLength);
    if (task.kind === 'arc') {
      const k = task.keys[0];
      const seal = await createSeal(content, {
        seal: {
          signingDomain: k.domain,
          selector: k.selector,
          privateKey: k.pem,
          algorithm: k.algorithm,
          canonicalization: task.canonicalization,
          headerList: task.headerList,
          signTime: new Date(task.signTime),
          cv: task.cv ?? 'none',
          authResults: task.authResults ?? '',
        },
      });
      if (seal.headers.length > 0) return { headers: `${seal.headers.join('\r\n')}\r\n` };
      // A chain that an earlier hop already found broken ends there: no seal is due, nothing failed.
      const chainFailed = seal.errors.find((e) => e.err?.code === 'EARCCHAINFAILED');
      if (chainFailed) return { skipped: chainFailed.err.message };
      return { error: seal.errors.map((e) => e.err?.message ?? 'unknown error').join('; ') || 'no ARC set could be made' };
    }
    const result = await dkimSign(content, {
      signingDomain: task.keys[0].domain,
      selector: task.keys[0].selector,
      privateKey: task.keys[0].pem,
      canonicalization: task.canonicalization,
      headerList: task.headerList,
      signTime: new Date(task.signTime),
      signatureData: task.keys.map((k) => ({ signingDomain: k.domain, selector: k.selector, privateKey: k.pem, algorithm: k.algorithm, canonicalization: task.canonicalization })),
    });
    // One key that cannot sign does not stop the others; with none made, say why.
    if (!result.signatures) return { error: result.errors.map((e) => e.err?.message ?? 'unknown error').join('; ') || 'no signature could be made' };
    return { headers: result.signatures };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
