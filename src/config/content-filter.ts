/**
 * content-filter: reads content_filter (and the FILTER action's argument)
 * and receive_override_options, as Postfix does.
 *
 * content_filter = transport:destination names a master.cf service and its
 * next hop ("smtp:[127.0.0.1]:10025", "scan:127.0.0.1:10025", or "filter:"
 * for the transport's own default); the queue manager hands every message
 * that carries it to that service instead of resolving its recipients.
 * receive_override_options turns off, for mail received by one service,
 * what was already done before the mail came back from a filter:
 * no_unknown_recipient_checks, no_address_mappings, no_header_body_checks,
 * no_milters.
 *
 * Both parsers throw ContentFilterError naming the problem; nothing else.
 */

export class ContentFilterError extends Error {
  readonly code = 'ERR_CONTENT_FILTER';
}

/** A content filter: the service that gets the mail, and the next hop ("" : the transport's default). */
export interface ContentFilter {
  transport: string;
  nexthop: string;
}

/** "transport:destination" -> its parts; throws ContentFilterError when there is no transport. */
export function parseContentFilter(value: string): ContentFilter {
  const v = value.trim();
  const colon = v.indexOf(':');
  if (colon <= 0 || /\s/.test(v)) throw new ContentFilterError(`content filter "${v}": need transport:destination`);
  return { transport: v.slice(0, colon), nexthop: v.slice(colon + 1) };
}

/** receive_override_options, read. */
export interface ReceiveOverrideOptions {
  /** smtpd does not refuse unknown recipients (reject_unlisted_recipient, local_recipient_maps ...). */
  noUnknownRecipientChecks: boolean;
  /** cleanup does not apply canonical, virtual alias and masquerading mappings. */
  noAddressMappings: boolean;
  /** cleanup does not run header_checks, body_checks and their MIME siblings. */
  noHeaderBodyChecks: boolean;
  /** The milters are not run (read by the milter code). */
  noMilters: boolean;
}

const OPTIONS: Record<string, keyof ReceiveOverrideOptions> = {
  no_unknown_recipient_checks: 'noUnknownRecipientChecks',
  no_address_mappings: 'noAddressMappings',
  no_header_body_checks: 'noHeaderBodyChecks',
  no_milters: 'noMilters',
};

/** Reads receive_override_options (comma or space separated); throws ContentFilterError on an unknown option. */
export function parseReceiveOverrideOptions(value: string): ReceiveOverrideOptions {
  const out: ReceiveOverrideOptions = { noUnknownRecipientChecks: false, noAddressMappings: false, noHeaderBodyChecks: false, noMilters: false };
  for (const word of value.split(/[\s,]+/)) {
    if (!word) continue;
    const key = OPTIONS[word.toLowerCase()];
    if (!key) throw new ContentFilterError(`receive_override_options: unknown option "${word}" (known: ${Object.keys(OPTIONS).join(', ')})`);
    out[key] = true;
  }
  return out;
}
