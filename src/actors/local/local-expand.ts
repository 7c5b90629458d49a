/**
 * local-expand: Postfix's $name expansion of forward_path, luser_relay and
 * command environments: $user, $home, $shell, $recipient, $local,
 * $extension, $domain, $mailbox, $recipient_delimiter (only when there is
 * an extension), as $name, ${name}, ${name?value} and ${name:value}.
 * Another name is looked up with `fallback` (main.cf's parameters, as
 * Postfix's local_expand does); an unknown one expands to nothing. Pure;
 * never throws.
 */

/** The attributes a template may name. */
export type ExpandAttrs = Partial<Record<'user' | 'home' | 'shell' | 'recipient' | 'local' | 'extension' | 'domain' | 'mailbox' | 'recipient_delimiter', string>>;

/** Expands `template` with `attrs`. */
export function expandTemplate(template: string, attrs: ExpandAttrs, fallback: (name: string) => string = () => ''): string {
  const get = (name: string): string => (Object.prototype.hasOwnProperty.call(attrs, name) ? (attrs as Record<string, string>)[name] : fallback(name)) ?? '';
  return template.replace(/\$(?:\{([a-z_]+)(?:([?:])([^}]*))?\}|([a-z_]+))/g, (_m, braced: string, op: string, value: string, bare: string) => {
    const name = braced ?? bare;
    const v = get(name);
    if (op === '?') return v ? expandTemplate(value, attrs, fallback) : '';
    if (op === ':') return v ? '' : expandTemplate(value, attrs, fallback);
    return v;
  });
}
