/**
 * bounce-template: the human-readable words of a notification, in Postfix's
 * built-in wording (bounce.cf.default): the subject and the boiler-plate of
 * the failure, delay and success notices and of sendmail -bv's report, and Postfix's line wrapping of the
 * per-recipient lines (79 columns, continuation indented by 4). Pure
 * functions; never throw.
 */

import type { NoticeKind } from '../../protocol/protocol.js';

export type { NoticeKind };

export interface TemplateValues {
  myhostname: string;
  /** delay_warning_time, or the message's age when that is unset, in hours. */
  delayHours: number;
  /** maximal_queue_lifetime in days. */
  lifetimeDays: number;
}

export const SUBJECTS: Record<NoticeKind, string> = {
  failure: 'Undelivered Mail Returned to Sender',
  delay: 'Delayed Mail (still being retried)',
  success: 'Successful Mail Delivery Report',
  verify: 'Mail Delivery Status Report',
};

/** Subject of the notice sent to 2bounce_notice_recipient when a bounce itself fails. */
export const DOUBLE_BOUNCE_SUBJECT = 'Postmaster Copy: Undelivered Mail';

const SIGNATURE = '                   The mail system';

/** The boiler-plate text lines (no line ends) for one kind of notice. */
export function boilerplate(kind: NoticeKind, v: TemplateValues): string[] {
  const intro = `This is the mail system at host ${v.myhostname}.`;
  const assistance = [
    'For further assistance, please send mail to postmaster.',
    '',
    'If you do so, please include this problem report. You can',
    'delete your own text from the attached returned message.',
  ];
  switch (kind) {
    case 'failure':
      return [
        intro,
        '',
        "I'm sorry to have to inform you that your message could not",
        "be delivered to one or more recipients. It's attached below.",
        '',
        ...assistance,
        '',
        SIGNATURE,
      ];
    case 'delay':
      return [
        intro,
        '',
        '####################################################################',
        '# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #',
        '####################################################################',
        '',
        `Your message could not be delivered for more than ${formatAmount(v.delayHours)} hour(s).`,
        `It will be retried until it is ${formatAmount(v.lifetimeDays)} day(s) old.`,
        '',
        ...assistance,
        '',
        SIGNATURE,
      ];
    case 'success':
      return [
        intro,
        '',
        'Your message was successfully delivered to the destination(s)',
        'listed below. If the message was delivered to mailbox you will',
        'receive no further notifications. Otherwise you may still receive',
        'notifications of mail delivery errors from other systems.',
        '',
        SIGNATURE,
      ];
    case 'verify':
      return [intro, '', 'Enclosed is the mail delivery report that you requested.', '', SIGNATURE];
  }
}

/** Postfix shows whole numbers of hours and days; fractions are rounded down, 0 stays 0. */
function formatAmount(n: number): string {
  return String(Math.max(0, Math.floor(n)));
}

/**
 * Wraps one long line at word boundaries to at most `width` columns; the
 * lines after the first are indented by `indent` spaces (Postfix's
 * line_wrap). A word longer than the width stays whole on its own line.
 */
export function wrapLine(text: string, width = 79, indent = 4): string[] {
  const out: string[] = [];
  let rest = text;
  let prefix = '';
  while (prefix.length + rest.length > width) {
    const room = width - prefix.length;
    let cut = rest.lastIndexOf(' ', room);
    if (cut <= 0) {
      cut = rest.indexOf(' ', room);
      if (cut < 0) break;
    }
    out.push(prefix + rest.slice(0, cut));
    rest = rest.slice(cut + 1).replace(/^ +/, '');
    prefix = ' '.repeat(indent);
  }
  out.push(prefix + rest);
  return out;
}

/** Replaces control and non-ASCII characters, so a remote reply cannot break the report's syntax. */
export function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?');
}
