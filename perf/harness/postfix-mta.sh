#!/usr/bin/env bash
# postfix-mta.sh: a throwaway Postfix instance as the MTA under test of the
# benchmark harness, on loopback only, relaying everything to one relayhost.
#
#   postfix-mta.sh start DIR PORT RELAYHOST   e.g. start /tmp/pf 2700 '[127.0.0.1]:2600'
#       Creates (or reuses) DIR/etc (main.cf, master.cf), DIR/queue, DIR/data
#       and DIR/log, starts Postfix's master with `postfix -c DIR/etc start`,
#       waits until 127.0.0.1:PORT answers with a 220 greeting, and prints the
#       master's pid on standard output (its process tree is the MTA).
#       The configuration files are rewritten on every start; the queue is kept.
#   postfix-mta.sh stop DIR
#       Stops that instance (`postfix -c DIR/etc stop`) and waits until every
#       process of it has exited. An instance that is not running is a notice,
#       not an error.
#
# The instance: smtpd on 127.0.0.1:PORT (the default process limit of 100
# kept), mynetworks = 127.0.0.0/8 and no other restriction, no local
# delivery (empty mydestination, local transport "error"), no chroot,
# default_destination_concurrency_limit = 20, and Postfix's own durability
# left as it is (queue files are fsynced before the 250). Logs go to
# DIR/log/maillog through postlogd.
#
# Errors: one line on standard error, exit 1. Needs root (Postfix's master
# does) and the postfix package; DIR must be reachable by the postfix user.
set -u

PROG=postfix-mta.sh
die() {
  echo "$PROG: $*" >&2
  exit 1
}
usage() {
  die "usage: $PROG start DIR PORT RELAYHOST | $PROG stop DIR"
}

# True when something on 127.0.0.1:$1 answers with an SMTP 220 greeting.
smtp_answers() {
  local port=$1 line
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  IFS= read -r -t 2 line <&3 || line=
  printf 'QUIT\r\n' >&3 2>/dev/null
  exec 3<&- 3>&-
  [[ $line == 220* ]]
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_taken() {
  { exec 3<>"/dev/tcp/127.0.0.1/$1"; } 2>/dev/null || return 1
  exec 3<&- 3>&-
}

# The master's pid from the instance's pid file, or nothing.
master_pid() {
  local file=$1/queue/pid/master.pid pid
  [[ -r $file ]] || return 1
  pid=$(tr -dc '0-9' <"$file")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# Where the maillog ended before this start: only what follows explains a failure.
LOG_OFFSET=0

# What Postfix said went wrong in this start: its first fatal or panic line (the cause, not the consequences),
# else its last error or warning, else the last line of the postfix command's own output.
last_log_line() {
  local dir=$1 new line
  new=$(tail -c "+$((LOG_OFFSET + 1))" "$dir/log/maillog" 2>/dev/null)
  line=$(grep -E 'fatal|panic' <<<"$new" | head -n 1)
  [[ -z $line ]] && line=$(grep -E 'error|warning' <<<"$new" | tail -n 1)
  [[ -z $line ]] && line=$(tail -n 1 "$dir/log/control.log" 2>/dev/null)
  echo "${line:-no log}"
}

# The highest compatibility_level this Postfix knows: 3.6 from Postfix 3.6 on, else 2 (Postfix 3.0 to 3.5).
compatibility_level() {
  local version major minor
  version=$(postconf -dh mail_version 2>/dev/null) || version=3.0
  major=${version%%.*}
  minor=${version#*.}
  minor=${minor%%.*}
  if ((major > 3 || (major == 3 && minor >= 6))); then echo 3.6; else echo 2; fi
}

write_main_cf() {
  local dir=$1 port=$2 relayhost=$3
  cat >"$dir/etc/main.cf" <<EOF
# Written by $PROG: a throwaway Postfix instance for benchmarks, loopback only.
compatibility_level = $(compatibility_level)
queue_directory = $dir/queue
data_directory = $dir/data
syslog_name = postfix-mta
maillog_file = $dir/log/maillog
maillog_file_prefixes = $dir/log

myhostname = postfix-mta.bench.test
mydomain = bench.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4

# Relay everything for loopback clients to one relayhost; nothing is local.
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions =
mydestination =
relay_domains =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled in this instance
alias_maps =
alias_database =
relayhost = $relayhost
append_dot_mydomain = no
biff = no

# The relayhost is an address literal and the clients are loopback: keep
# resolver latency out of the figures.
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
smtpd_tls_security_level = none
smtp_tls_security_level = none

# Benchmark settings, written out although they are Postfix's defaults.
default_destination_concurrency_limit = 20
default_process_limit = 100
EOF
}

write_master_cf() {
  local dir=$1 port=$2
  cat >"$dir/etc/master.cf" <<EOF
# Written by $PROG. No chroot (column 5 = n); process limits are Postfix's defaults.
# service type  private unpriv  chroot  wakeup  maxproc command + args
127.0.0.1:$port inet n  -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

start() {
  (($# == 3)) || usage
  local dir=$1 port=$2 relayhost=$3 pid i
  [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "bad port: $port"
  [[ $relayhost =~ ^[^[:space:]]+$ ]] || die "bad relayhost: $relayhost"
  [[ $dir == /* ]] || dir=$(pwd)/$dir
  dir=${dir%/}

  if pid=$(master_pid "$dir"); then die "already running in $dir (master pid $pid)"; fi
  if port_taken "$port"; then die "127.0.0.1:$port is already in use"; fi

  mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/log" || die "cannot create directories under $dir"
  # The daemons run as the postfix user and must reach the queue; the queue itself belongs to root, as Postfix wants.
  chmod 755 "$dir" "$dir/etc" "$dir/queue" "$dir/log" || die "cannot set permissions under $dir"
  chown root:root "$dir/queue" || die "cannot give $dir/queue to root"
  chown "$(postconf -dh mail_owner)" "$dir/data" || die "cannot give $dir/data to the postfix user"
  if command -v runuser >/dev/null && ! runuser -u "$(postconf -dh mail_owner)" -- test -x "$dir/queue"; then
    die "the postfix user cannot reach $dir/queue (a parent directory is not searchable)"
  fi
  LOG_OFFSET=$(stat -c %s "$dir/log/maillog" 2>/dev/null || echo 0)
  write_main_cf "$dir" "$port" "$relayhost" || die "cannot write $dir/etc/main.cf"
  write_master_cf "$dir" "$port" || die "cannot write $dir/etc/master.cf"

  postfix -c "$dir/etc" start >"$dir/log/control.log" 2>&1 || die "postfix start failed: $(last_log_line "$dir")"

  # About 30 s: the first start creates the queue directories.
  for ((i = 0; i < 300; i++)); do
    if pid=$(master_pid "$dir"); then
      if smtp_answers "$port"; then
        echo "$pid"
        return 0
      fi
    elif ((i >= 30)); then
      die "the Postfix master is not running: $(last_log_line "$dir")"
    fi
    sleep 0.1
  done
  postfix -c "$dir/etc" abort >/dev/null 2>&1
  die "Postfix did not answer on 127.0.0.1:$port within 30 s: $(last_log_line "$dir")"
}

stop() {
  (($# == 1)) || usage
  local dir=${1%/} pid i
  [[ -f $dir/etc/main.cf ]] || die "no Postfix instance in $dir"
  if ! pid=$(master_pid "$dir"); then
    echo "$PROG: not running in $dir" >&2
    return 0
  fi
  postfix -c "$dir/etc" stop >>"$dir/log/control.log" 2>&1
  # The master is a process group leader and its children stay in its group: wait for the whole group.
  for ((i = 0; i < 100; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 -- "-$pid" 2>/dev/null
  sleep 0.2
  kill -0 -- "-$pid" 2>/dev/null && die "processes of master pid $pid are still running"
  return 0
}

# True when NAME is an executable on PATH (bash's lookup alone also finds files that cannot run).
runnable() {
  local path
  path=$(command -v "$1" 2>/dev/null) && [[ -f $path && -x $path ]]
}
runnable postfix && runnable postconf || PATH=$PATH:/usr/sbin:/usr/local/sbin
runnable postfix && runnable postconf || die "Postfix is not installed (apt-get install postfix)"
(($(id -u) == 0)) || die "must run as root (Postfix's master needs it)"

case ${1:-} in
start) shift; start "$@" ;;
stop) shift; stop "$@" ;;
*) usage ;;
esac
