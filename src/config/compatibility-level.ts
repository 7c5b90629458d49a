/**
 * compatibility-level: Postfix's backwards-compatibility safety net. Below
 * compatibility_level 1 and 2, parameters that main.cf leaves unset take
 * their defaults from before Postfix 3.0, as Postfix 3.7 does:
 *
 *   below 1: append_dot_mydomain = yes, smtputf8_enable = no
 *   below 2: relay_domains = $mydestination (and so fast_flush_domains),
 *            mynetworks_style = subnet (when mynetworks is unset too)
 *
 * Postfix's other switches name parameters Postrider does not have
 * (smtpd_relay_before_recipient_restrictions, respectful_logging, the TLS
 * fingerprint digests: Postrider behaves as their level 3.6 values), the
 * master.cf chroot column (refused whatever the level), and below 1
 * smtpd_relay_restrictions = (empty), under which Postfix relays for any
 * client while it logs that it would not: Postrider keeps its relay
 * restrictions and says so (a warning), rather than become an open relay.
 *
 *   parseCompatibilityLevel(text): "3.6" -> [3, 6, 0]; undefined when malformed.
 *   compatibilityDefaults(levelText, set): the legacy values to apply, each
 *     with the warning Postfix's COMPATIBILITY_README names it by.
 *
 * Pure functions; nothing throws.
 */

/** Postfix's compat_level_from_string: major[.minor[.patch]], decimal numbers. */
export function parseCompatibilityLevel(text: string): [number, number, number] | undefined {
  const m = /^\s*(\d+)(?:\.(\d+)(?:\.(\d+))?)?\s*$/.exec(text);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

function below(level: [number, number, number], major: number): boolean {
  return level[0] < major;
}

/** One default switched by a low compatibility_level. */
export interface CompatibilityDefault {
  name: string;
  value: string;
  /** The line `check` and `start` print. */
  warning: string;
}

/**
 * The defaults a compatibility level switches for a main.cf whose settings
 * are `isSet`; empty for a level of 2 or more, or a malformed one.
 */
export function compatibilityDefaults(levelText: string, isSet: (name: string) => boolean): CompatibilityDefault[] {
  const level = parseCompatibilityLevel(levelText);
  if (!level) return [];
  const out: CompatibilityDefault[] = [];
  const legacy = (name: string, value: string): void => {
    out.push({ name, value, warning: `compatibility_level = ${levelText.trim()}: using backwards-compatible default setting ${name}=${value}` });
  };
  if (below(level, 1)) {
    if (!isSet('append_dot_mydomain')) legacy('append_dot_mydomain', 'yes');
    if (!isSet('smtputf8_enable')) legacy('smtputf8_enable', 'no');
  }
  if (below(level, 2)) {
    if (!isSet('relay_domains')) legacy('relay_domains', '$mydestination');
    if (!isSet('mynetworks') && !isSet('mynetworks_style')) legacy('mynetworks_style', 'subnet');
  }
  return out;
}

/** The warning for compatibility_level below 1 with smtpd_relay_restrictions unset (see the file comment). */
export function relayRestrictionsWarning(levelText: string, isSet: (name: string) => boolean): string | undefined {
  const level = parseCompatibilityLevel(levelText);
  if (!level || !below(level, 1) || isSet('smtpd_relay_restrictions')) return undefined;
  return `compatibility_level = ${levelText.trim()}: Postfix would use "smtpd_relay_restrictions = (empty)" and relay for any client; Postrider keeps permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination (set smtpd_relay_restrictions to choose)`;
}
