/**
 * cli-help: the text of `postrider --help`, `postrider help [COMMAND
 * [SUBCOMMAND]]` and `postrider COMMAND --help`, built from
 * cli-commands-table, and the one-line usage a bad command line names.
 * Pure functions; nothing throws.
 */
import { COMMANDS, GLOBAL_OPTIONS, type CommandSpec, type OptionSpec } from './cli-commands-table.js';

/** "-c DIR", "--json", "--cpus LIST". */
export function optionLabel(o: OptionSpec): string {
  const flag = o.label ?? (o.name.length === 1 ? `-${o.name}` : `--${o.name}`);
  return o.arg ? `${flag} ${o.arg}` : flag;
}

function optionLines(options: OptionSpec[]): string[] {
  const width = Math.min(28, Math.max(...options.map((o) => optionLabel(o).length)));
  return options.map((o) => {
    const label = optionLabel(o);
    return label.length > width ? `  ${label}\n  ${''.padEnd(width)}  ${o.text}` : `  ${label.padEnd(width)}  ${o.text}`;
  });
}

/** The usage line of a command: "usage: postrider [-c DIR] queue show ID [...]". */
export function usageLine(cmd: CommandSpec, parent?: CommandSpec): string {
  const name = parent ? `${parent.name} ${cmd.name}` : cmd.name;
  return `usage: postrider [-c DIR] ${name}${cmd.synopsis ? ' ' + cmd.synopsis : ''}`;
}

/** `postrider --help`. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'usage: postrider [-c DIR] COMMAND [options] [args]',
    '       postrider --help | --version | help [COMMAND]',
    '',
    'Postrider, a mail transfer agent in the family of Postfix.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    "`postrider help COMMAND` or `postrider COMMAND --help` describes a command.",
    '',
  ].join('\n');
}

/** `postrider help COMMAND [SUBCOMMAND]`, `postrider COMMAND [SUBCOMMAND] --help`. */
export function commandHelp(cmd: CommandSpec, parent?: CommandSpec): string {
  const out = [usageLine(cmd, parent)];
  if (cmd.subcommands) {
    for (const s of cmd.subcommands) out.push(`       postrider [-c DIR] ${cmd.name} ${s.name}${s.synopsis ? ' ' + s.synopsis : ''}`);
  }
  out.push('', cmd.summary[0].toUpperCase() + cmd.summary.slice(1) + '.');
  if (cmd.postfix) out.push(`Postfix: ${cmd.postfix}.`);
  for (const p of cmd.description ?? []) out.push('', p);
  if (cmd.options.length) out.push('', 'Options:', ...optionLines(cmd.options));
  if (cmd.subcommands) {
    const width = Math.max(...cmd.subcommands.map((s) => s.name.length));
    out.push('', 'Subcommands:', ...cmd.subcommands.map((s) => `  ${s.name.padEnd(width)}  ${s.summary}`));
    out.push('', `\`postrider ${cmd.name} SUBCOMMAND --help\` describes a subcommand.`);
  }
  out.push('', 'Options for every command:', ...optionLines(GLOBAL_OPTIONS), '');
  return out.join('\n');
}
