/**
 * cli-commands-table: every command of `postrider`, its synopsis, its
 * options and what it does, in one table. main.ts parses each command's
 * options from it (node:util parseArgs), `--help` and `help COMMAND` print
 * it (cli-help), and the man pages are generated from it (man-pages), so
 * the three cannot disagree. Data only; nothing here throws.
 */

/** One option: how parseArgs reads it and what help says of it. */
export interface OptionSpec {
  /** The long name parseArgs knows it by (a one-letter name is a short option). */
  name: string;
  short?: string;
  type: 'boolean' | 'string';
  multiple?: boolean;
  /** How help spells it when not -x / --name (sendmail's -bs). */
  label?: string;
  /** The value's placeholder in help ("DIR", "name=value"). */
  arg?: string;
  text: string;
}

/** One command (or subcommand such as `queue show`). */
export interface CommandSpec {
  name: string;
  /** The part of the usage line after the command name. */
  synopsis: string;
  /** One line: what it does. */
  summary: string;
  /** The Postfix command it stands for, when there is one. */
  postfix?: string;
  /** Paragraphs of description. */
  description?: string[];
  options: OptionSpec[];
  /** Commands that keep a syntax of their own (sendmail's, smtp-source's): main passes their arguments untouched. */
  ownSyntax?: boolean;
  subcommands?: CommandSpec[];
}

/** Options every command takes. */
export const GLOBAL_OPTIONS: OptionSpec[] = [
  {
    name: 'c',
    short: 'c',
    type: 'string',
    arg: 'DIR',
    text: 'the configuration directory (default $POSTRIDER_CONFIG, else ./etc in a source checkout and /etc/postrider when installed)',
  },
  { name: 'help', type: 'boolean', text: 'print the help of the command (or of postrider) and exit' },
  { name: 'version', type: 'boolean', text: 'print the version of Postrider and of Node.js and the configuration directory, and exit' },
];

const json = (text: string): OptionSpec => ({ name: 'json', type: 'boolean', text });

const BENCH_LOAD: OptionSpec[] = [
  { name: 'm', short: 'm', type: 'string', arg: 'COUNT', text: 'messages to send' },
  { name: 's', short: 's', type: 'string', arg: 'SESSIONS', text: 'concurrent SMTP sessions' },
  { name: 'l', short: 'l', type: 'string', arg: 'SIZE', text: 'message size in bytes (k and m suffixes)' },
  { name: 'r', short: 'r', type: 'string', arg: 'RECIPIENTS', text: 'recipients per message' },
  { name: 'unique', type: 'boolean', text: 'a unique body per message' },
  { name: 'rate', type: 'string', arg: 'MSG/S', text: 'an open-loop rate instead of as fast as possible' },
  { name: 'json', type: 'string', arg: 'FILE', text: 'write the results as JSON to FILE' },
];

export const COMMANDS: CommandSpec[] = [
  {
    name: 'start-fg',
    synopsis: '',
    summary: 'run the mail system in the foreground, logging to standard output',
    postfix: 'postfix start-fg',
    description: [
      'SIGTERM or `postrider stop` drains the work in flight and exits 0; SIGHUP reloads. Under systemd this is the service\'s ExecStart (Type=notify).',
      'The log goes to maillog_file when it is set; otherwise to standard output, or to syslog_socket as under `postrider start` when POSTRIDER_LOG=syslog is in the environment (the systemd unit sets it) and that socket exists.',
      'With NOTIFY_SOCKET set, as systemd sets it for a Type=notify unit, it tells systemd READY=1 (its pid as MAINPID) once every listener accepts, RELOADING=1 then READY=1 around a reload, and STOPPING=1 when the stop begins, each through systemd-notify(1) (a missing one is a warning); nothing it starts inherits NOTIFY_SOCKET.',
    ],
    options: [],
  },
  {
    name: 'start',
    synopsis: '',
    summary: 'start the mail system detached; returns once every listener accepts',
    postfix: 'postfix start',
    options: [],
  },
  {
    name: 'stop',
    synopsis: '',
    summary: 'stop gracefully: listeners close, work in flight finishes or stays queued',
    postfix: 'postfix stop',
    options: [],
  },
  {
    name: 'reload',
    synopsis: '',
    summary: 're-read main.cf and master.cf; a broken configuration is refused and the running tree stays',
    postfix: 'postfix reload',
    options: [],
  },
  {
    name: 'status',
    synopsis: '[--json]',
    summary: 'exit 0 when running, 1 when not, with a table of the threads',
    postfix: 'postfix status',
    options: [json('the status as JSON (actors, main thread, process, queue counts)')],
  },
  {
    name: 'check',
    synopsis: '',
    summary: 'print every configuration and queue-directory problem; exit 1 on any error',
    postfix: 'postfix check',
    options: [],
  },
  {
    name: 'config',
    synopsis: '[-n] [-d] [-x] [-h] [name ...] | -e name=value ... | -X name ... | -# name ... | -M [service[/type] ...] | -P [service/type/name ...]',
    summary: 'print or edit main.cf parameters and print master.cf entries',
    postfix: 'postconf',
    description: [
      'Without an option: every parameter in effect, `name = value` sorted by name, or the names given in the order given.',
      '-e, -X and -# edit main.cf in place as postconf does: every line setting the name is replaced, removed or commented out, and names not yet set are appended at the end; comments, blank lines and the order of the other lines stay. The new file replaces the old one by rename. A running daemon sees the change at `postrider reload`.',
    ],
    options: [
      { name: 'n', short: 'n', type: 'boolean', text: 'only the parameters main.cf sets' },
      { name: 'd', short: 'd', type: 'boolean', text: 'the default values' },
      { name: 'x', short: 'x', type: 'boolean', text: 'values with $name expanded' },
      { name: 'h', short: 'h', type: 'boolean', text: 'values only, without "name = "' },
      { name: 'e', short: 'e', type: 'boolean', text: 'edit: set each name=value argument in main.cf' },
      { name: 'X', short: 'X', type: 'boolean', text: 'remove each named parameter from main.cf' },
      { name: '#', short: '#', type: 'boolean', text: 'comment out each named parameter in main.cf' },
      { name: 'M', short: 'M', type: 'boolean', text: 'master.cf entries (all, or those named service or service/type), in Postfix\'s layout' },
      { name: 'P', short: 'P', type: 'boolean', text: 'the -o parameters of master.cf services as service/type/name = value' },
    ],
  },
  {
    name: 'queue',
    synopsis: '[--json] | show ID [--headers|--body|--envelope] | delete|hold|release|requeue ID...|ALL [queue...]|-',
    summary: 'list the queue, show a message, or delete, hold, release or requeue messages',
    postfix: 'mailq, postqueue -p/-j, postcat -q, postsuper',
    description: ['With the daemon down, the listing and `show` read the journal without changing it; the other subcommands need the daemon.'],
    options: [json('the listing as JSON lines (postqueue -j)')],
    subcommands: [
      {
        name: 'show',
        synopsis: 'ID [--headers|--body|--envelope]',
        summary: 'the envelope, headers and body of a queued message',
        postfix: 'postcat -q',
        options: [
          { name: 'headers', type: 'boolean', text: 'only the headers' },
          { name: 'body', type: 'boolean', text: 'only the body' },
          { name: 'envelope', type: 'boolean', text: 'only the envelope' },
        ],
      },
      ...(['delete', 'hold', 'release', 'requeue'] as const).map(
        (name): CommandSpec => ({
          name,
          synopsis: 'ID...|ALL [queue...]|-',
          summary: `${name} queue entries; - reads the ids from standard input; ALL [queue...] limits ALL to those queues`,
          postfix: { delete: 'postsuper -d', hold: 'postsuper -h', release: 'postsuper -H', requeue: 'postsuper -r' }[name],
          options: [],
        }),
      ),
    ],
  },
  {
    name: 'flush',
    synopsis: '[site]',
    summary: 'retry deferred mail now (for one site when given)',
    postfix: 'postqueue -f, postqueue -s site',
    options: [],
  },
  {
    name: 'logrotate',
    synopsis: '',
    summary: 'reopen maillog_file (SIGHUP does the same)',
    postfix: 'postfix logrotate',
    options: [],
  },
  {
    name: 'fault',
    synopsis: 'ROLE INSTANCE throw|exit|oom|hang',
    summary: 'inject a fault into one actor (debug_fault_injection = yes only)',
    options: [],
  },
  {
    name: 'saslpasswd',
    synopsis: 'FILE USER',
    summary: "add or replace USER's hashed secret in the SASL table FILE (a path as given, relative to the current directory)",
    postfix: 'saslpasswd2',
    description: [
      'On a terminal the secret is asked twice, without echo; otherwise the first line of standard input is the secret.',
    ],
    options: [],
  },
  {
    name: 'newaliases',
    synopsis: '',
    summary: 'check the alias files alias_database names and reload a running daemon',
    postfix: 'newaliases, sendmail -bi',
    options: [],
  },
  {
    name: 'tlsrpt',
    synopsis: 'show [--json] | send [--today]',
    summary: 'print today\'s TLSRPT figures, or send the daily TLS reports (RFC 8460) now',
    description: [
      'The smtp client counts its TLS sessions per policy domain when smtp_tlsrpt_enable = yes; the daemon sends each finished UTC day\'s reports at smtp_tlsrpt_send_time to the rua of the domain\'s _smtp._tls TXT record (mailto: through the queue, https: by POST).',
    ],
    options: [],
    subcommands: [
      {
        name: 'show',
        synopsis: '[--json]',
        summary: 'successful and failed TLS sessions per policy domain today (UTC), failures by result type',
        options: [json('the figures as one JSON object')],
      },
      {
        name: 'send',
        synopsis: '[--today]',
        summary: 'send the reports of the finished days not sent yet; exits 1 when a report could not be sent',
        options: [{ name: 'today', type: 'boolean', text: 'send the report of today so far instead (the day is still sent in full later)' }],
      },
    ],
  },
  {
    name: 'init',
    synopsis: 'DIR [--queue-directory PATH]',
    summary: 'write a fresh, commented configuration directory (main.cf, master.cf, aliases) to DIR',
    description: ['Existing files are never overwritten. queue_directory is /var/spool/postrider unless --queue-directory says otherwise.'],
    options: [{ name: 'queue-directory', type: 'string', arg: 'PATH', text: 'the queue_directory the new main.cf sets' }],
  },
  {
    name: 'sendmail',
    synopsis: '[-t] [-i] [-f sender] [-F name] [-B 8BITMIME] [-bs|-bp|-bi|-bv|-q[Rsite]] [rcpt ...]',
    summary: 'submit a message from standard input (works with the daemon down: it waits in the maildrop)',
    postfix: 'sendmail',
    description: ['Takes sendmail\'s own options, as Postfix\'s sendmail does; installed as a link named sendmail, mailq or newaliases, postrider runs that command.'],
    ownSyntax: true,
    options: [
      { name: 't', short: 't', type: 'boolean', text: 'recipients from the To:, Cc: and Bcc: headers' },
      { name: 'i', short: 'i', type: 'boolean', text: 'a line with a single dot does not end the message (also -oi)' },
      { name: 'f', short: 'f', type: 'string', arg: 'SENDER', text: 'the envelope sender' },
      { name: 'F', short: 'F', type: 'string', arg: 'NAME', text: "the sender's full name" },
      { name: 'B', short: 'B', type: 'string', arg: 'TYPE', text: 'the body type (7BIT or 8BITMIME)' },
      { name: 'bs', label: '-bs', type: 'boolean', text: 'SMTP on standard input and output' },
      { name: 'bp', label: '-bp', type: 'boolean', text: 'list the queue (mailq)' },
      { name: 'bi', label: '-bi', type: 'boolean', text: 'newaliases (also -I)' },
      { name: 'bv', label: '-bv', type: 'boolean', text: 'verify the recipients without delivering; the sender is mailed a report' },
      { name: 'q', label: '-q[Rsite]', type: 'boolean', text: 'flush the queue (for one site)' },
    ],
  },
  {
    name: 'bench',
    synopsis: 'run|source|sink|all [options]',
    summary: 'the benchmark harness (smtp-source and smtp-sink); runs from a source checkout',
    postfix: 'smtp-source, smtp-sink',
    ownSyntax: true,
    options: [],
    subcommands: [
      {
        name: 'run',
        synopsis: '[options]',
        summary: 'generator -> MTA under test -> sink, with tables and a JSON file; exit 2 when mail was lost or duplicated',
        options: [
          ...BENCH_LOAD,
          { name: 'mode', type: 'string', arg: 'kept|per-connection|both', text: 'one connection per session, or one per message' },
          { name: 'mta', type: 'string', arg: 'LIST', text: 'the MTAs to measure (direct,postrider)' },
          { name: 'compare-name', type: 'string', arg: 'NAME', text: 'the name of another MTA to compare with' },
          { name: 'compare-start', type: 'string', arg: 'CMD', text: 'the command that starts it' },
          { name: 'compare-stop', type: 'string', arg: 'CMD', text: 'the command that stops it' },
          { name: 'rounds', type: 'string', arg: 'N', text: 'rounds per case' },
          { name: 'baseline', type: 'string', arg: 'NAME', text: 'the case the others are compared with' },
          { name: 'stall', type: 'string', arg: 'SECONDS', text: 'give up when no message arrives for this long' },
          { name: 'quiet', type: 'boolean', text: 'no progress lines' },
          { name: 'cpus', type: 'string', multiple: true, arg: 'LIST', text: 'pin the MTA to these CPUs (repeatable: one run per list)' },
          { name: 'source-cpus', type: 'string', arg: 'LIST', text: 'pin the generator and sink to these CPUs' },
          { name: 'variant', type: 'string', multiple: true, arg: 'NAME:param=value[,...]', text: 'Postrider again with these main.cf values, named NAME (repeatable)' },
          { name: 'milter', type: 'string', arg: 'ADDR', text: 'follow each Postrider run with one whose smtpd_milters is ADDR (postrider+milter)' },
          { name: 'warmup', type: 'string', arg: 'COUNT', text: 'messages sent first and left out of the rates, latency and CPU (a fresh daemon runs unoptimised code at first)' },
        ],
      },
      {
        name: 'source',
        synopsis: '--port PORT [options]',
        summary: 'the load generator alone against any SMTP server (smtp-source)',
        options: [
          ...BENCH_LOAD,
          { name: 'host', type: 'string', arg: 'HOST', text: 'the server (default 127.0.0.1)' },
          { name: 'port', type: 'string', arg: 'PORT', text: 'the server port' },
          { name: 'per-connection', type: 'boolean', text: 'one connection per message' },
          { name: 'from', type: 'string', arg: 'ADDR', text: 'the envelope sender' },
          { name: 'to', type: 'string', arg: 'ADDR', text: 'the recipient' },
          { name: 'starttls', type: 'boolean', text: 'STARTTLS before MAIL' },
          { name: 'quiet', type: 'boolean', text: 'no progress lines' },
        ],
      },
      {
        name: 'sink',
        synopsis: '[options]',
        summary: 'the sink alone (smtp-sink), until N messages or a signal',
        options: [
          { name: 'host', type: 'string', arg: 'HOST', text: 'the address to listen on' },
          { name: 'port', type: 'string', arg: 'PORT', text: 'the port to listen on' },
          { name: 'count', type: 'string', arg: 'N', text: 'exit after N messages' },
          { name: 'store', type: 'string', arg: 'DIR', text: 'keep each message in DIR' },
          { name: 'reply', type: 'string', multiple: true, arg: 'STAGE[@EVERY]:REPLY', text: 'answer STAGE with REPLY (every EVERY-th time)' },
          { name: 'tls-cert', type: 'string', arg: 'FILE', text: 'offer STARTTLS with this certificate' },
          { name: 'tls-key', type: 'string', arg: 'FILE', text: 'and this key' },
        ],
      },
      { name: 'all', synopsis: '', summary: 'every benchmark of perf/ in turn', options: [] },
    ],
  },
  {
    name: 'help',
    synopsis: '[COMMAND [SUBCOMMAND]]',
    summary: 'print the help of postrider or of a command',
    options: [],
  },
];

/** The command (or subcommand when `sub` names one) of the table; undefined when unknown. */
export function findCommand(name: string | undefined, sub?: string): CommandSpec | undefined {
  const cmd = COMMANDS.find((c) => c.name === name);
  if (!cmd || sub === undefined) return cmd;
  return cmd.subcommands?.find((s) => s.name === sub);
}
