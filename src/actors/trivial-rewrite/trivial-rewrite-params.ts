/**
 * trivial-rewrite-params: the parameters address rewriting and resolution
 * read. Their defaults are the parameter table's (Postfix's): a record that
 * lacks some (a partial configuration, as tests build) is completed from the
 * table once per record. Reading never throws except through MainConfig's
 * own getters (ConfigError naming the parameter) for a malformed number.
 */
import type { MainConfig } from '../../config/main-config.js';
import { withParameterDefaults } from '../../config/parameter-defaults.js';

/** Every parameter trivial-rewrite reads (virtual_maps through virtual_alias_maps' default, $virtual_maps). */
export const REWRITE_PARAMETERS = [
  'virtual_maps',
  'myhostname', 'mydomain', 'myorigin', 'mydestination', 'local_transport', 'append_at_myorigin',
  'canonical_maps', 'sender_canonical_maps', 'recipient_canonical_maps', 'virtual_alias_maps',
  'virtual_alias_domains', 'virtual_mailbox_domains', 'virtual_mailbox_maps', 'relay_domains', 'transport_maps',
  'relayhost', 'recipient_delimiter', 'propagate_unmatched_extensions', 'virtual_alias_recursion_limit',
  'virtual_alias_expansion_limit', 'virtual_transport', 'relay_transport', 'default_transport', 'inet_interfaces',
  'proxy_interfaces', 'parent_domain_matches_subdomains', 'append_dot_mydomain',
  'canonical_classes', 'sender_canonical_classes', 'recipient_canonical_classes',
  'masquerade_domains', 'masquerade_exceptions', 'masquerade_classes', 'remote_header_rewrite_domain',
] as const;

/** A parameter trivial-rewrite reads. */
export type RewriteParameter = (typeof REWRITE_PARAMETERS)[number];

const completed = new WeakMap<MainConfig, MainConfig>();

function complete(config: MainConfig): MainConfig {
  let c = completed.get(config);
  if (!c) {
    c = withParameterDefaults(config, REWRITE_PARAMETERS);
    completed.set(config, c);
  }
  return c;
}

/** A parameter's value, the table's default when the record does not hold it. */
export function param(config: MainConfig, name: RewriteParameter): string {
  return complete(config).get(name);
}

/** An integer parameter. */
export function intParam(config: MainConfig, name: RewriteParameter): number {
  return complete(config).int(name);
}

/** A yes/no parameter. */
export function boolParam(config: MainConfig, name: RewriteParameter): boolean {
  return complete(config).bool(name);
}
