/**
 * trivial-rewrite-params: the parameters address rewriting and resolution
 * read, with Postfix's defaults for those a configuration record lacks.
 * Reading never throws except through MainConfig's own getters (ConfigError
 * naming the parameter) for a malformed number.
 */
import { hostname } from 'node:os';
import type { MainConfig } from '../../config/main-config.js';

/** Postfix's defaults, already expanded as far as they can be without the record. */
const DEFAULTS: Record<string, string> = {
  append_at_myorigin: 'yes',
  canonical_maps: '',
  sender_canonical_maps: '',
  recipient_canonical_maps: '',
  virtual_alias_maps: '',
  virtual_alias_domains: '',
  virtual_mailbox_domains: '',
  virtual_mailbox_maps: '',
  relay_domains: '',
  transport_maps: '',
  relayhost: '',
  recipient_delimiter: '',
  propagate_unmatched_extensions: 'canonical, virtual',
  virtual_alias_recursion_limit: '1000',
  virtual_alias_expansion_limit: '1000',
  virtual_transport: 'virtual',
  relay_transport: 'relay',
  default_transport: 'smtp',
  inet_interfaces: 'all',
  proxy_interfaces: '',
};

/** A parameter's value, or Postfix's default when the record does not hold it. */
export function param(config: MainConfig, name: string): string {
  if (config.has(name)) return config.get(name);
  if (name === 'myhostname') return hostname();
  if (name === 'mydomain') {
    const host = param(config, 'myhostname');
    const dot = host.indexOf('.');
    return dot > 0 ? host.slice(dot + 1) : 'localdomain';
  }
  if (name === 'myorigin') return param(config, 'myhostname');
  if (name === 'mydestination') return `${param(config, 'myhostname')}, localhost.${param(config, 'mydomain')}, localhost`;
  if (name === 'local_transport') return `local:${param(config, 'myhostname')}`;
  return DEFAULTS[name] ?? '';
}

/** An integer parameter with Postfix's default. */
export function intParam(config: MainConfig, name: string): number {
  return config.has(name) ? config.int(name) : Number(DEFAULTS[name] ?? '0');
}

/** A yes/no parameter with Postfix's default. */
export function boolParam(config: MainConfig, name: string): boolean {
  return config.has(name) ? config.bool(name) : DEFAULTS[name] === 'yes';
}
