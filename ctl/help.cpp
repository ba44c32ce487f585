// streamguardctl --help: the manual page, kept beside the code it describes.
#include "ctl/help.hpp"

namespace sg {

const char* const kCtlHelp = R"(NAME
    streamguardctl - operator's tool for streamguard

SYNOPSIS
    streamguardctl postfix-conf --config FILE [--out DIR]
                   [--postfix-config DIR | --without-postfix]
    streamguardctl postfix-conf --config FILE --diff | --apply | --rollback
                   [--postfix-config DIR]
    streamguardctl enforce | shadow STREAM --config FILE [--postfix-config DIR]
    streamguardctl status --config FILE [--json]
    streamguardctl report --config FILE [--json]
    streamguardctl classify --config FILE IN.csv|- --column NAME --out DIR
                   [--concurrency N] [--dns IP[:PORT] | --no-mx]
    streamguardctl suppress show ADDRESS|DOMAIN --config FILE
    streamguardctl suppress add ADDRESS|DOMAIN --config FILE --reason TEXT
                   [--days N]
    streamguardctl suppress remove ADDRESS|DOMAIN --config FILE
    streamguardctl suppress list --config FILE [FILTER...]
    streamguardctl suppress import FILE.csv|- --config FILE [--reason TEXT]
                   [--days N] [--dry-run]
    streamguardctl suppress export --config FILE [--out FILE] [--domains]
                   [FILTER...]
    streamguardctl audit-log --config FILE --log MAILLOG[.gz] [--since DATE]
    streamguardctl explain --config FILE --port PORT --recipient ADDRESS
                   [--redis URL] [--dns IP[:PORT]]
    streamguardctl --help | --version

DESCRIPTION
    postfix-conf renders the Postfix side of streamguard from the same
    configuration streamguard-policyd reads, so the submission ports, the
    stream transports and the excluded lists cannot drift apart. Everything
    it adds applies to the stream services only: inbound mail on port 25,
    staff submission on 587/465, pickup (cron mail) and local delivery keep
    main.cf's own settings.

    main.cf.fragment
        streamguard's own parameters, none of Postfix's:
        streamguard_recipient_restrictions (check_recipient_access with the
        backstop map, then check_policy_service for streamguard-policyd
        with [postfix] policy_service, policy_timeout, default_action, then
        the smtpd_recipient_restrictions main.cf has now, so
        permit_sasl_authenticated and the operator's own checks still
        apply); streamguard_shadow_recipient_restrictions when a stream is
        in shadow mode (the backstop only logs, policyd's default_action is
        DUNNO); streamguard_end_of_data_restrictions with [policyd] commit
        = "end_of_message"; streamguard_milters with a [milter] table.

    master.cf.fragment
        One smtpd service per port of every [[stream]] ("ADDR:PORT" with
        [postfix] listen_address; "smtp" for port 25), each with the
        stream's syslog_name, content_filter=TRANSPORT: and -o lines naming
        the streamguard_* parameters (milter_default_action=tempfail, or
        accept for a stream in shadow), and one smtp transport per stream
        with its smtp_bind_address and smtp_helo_name.

    streamguard-backstop.regexp
        A Postfix regexp: table refusing at RCPT (REJECT 5.7.1, in the words
        policyd uses) every recipient on a list that EVERY stream excludes,
        e.g. yahoo_family. smtpd reads it itself, so it holds while
        streamguard-policyd is down. It belongs in [postfix] backstop_dir,
        where main.cf.fragment points.

    streamguard-egress-headers.regexp (with a [milter] table)
        A Postfix regexp: table that removes the milter's stream header
        ([milter] header) as mail leaves through a stream's transport, so
        no receiver learns how the sender splits its mail. The stream
        transports name it in smtp_header_checks, before main.cf's own
        smtp_header_checks; it goes in [postfix] backstop_dir too.

    A stream on port 25 needs [postfix] listen_address: port 25 on every
    address is where inbound mail arrives, and it would be charged to the
    stream and sent out through its transport. postfix-conf refuses it.

    Without --apply nothing is applied to Postfix: add the fragments to
    main.cf and master.cf, install the map, and run `postfix reload` (see
    postfix-conf/README.md).

    --diff, --apply and --rollback work on the Postfix configuration
    directory (--postfix-config DIR, else [rampd] postfix_config_dir, else
    /etc/postfix) with Postfix's own tools from [rampd]
    postfix_command_dir:

    --diff      Print each main.cf parameter and master.cf entry --apply
                would set, as it is now ("-") and as it would be ("+").
    --apply     Refuse while streamguard-policyd ([policyd] listen) or the
                milter ([milter] listen) does not answer. Keep main.cf and
                master.cf as they were before the first apply
                (main.cf.streamguard-orig, master.cf.streamguard-orig; a
                later apply leaves them), set the parameters with postconf
                -e and the entries with postconf -M (nothing else in the
                files changes), install the backstop map, run postfix check
                (on failure the files are put back) and reload Postfix if it
                runs.
    --rollback  Put main.cf.streamguard-orig and master.cf.streamguard-orig
                back byte for byte, check and reload. Mail still queued with
                a stream's content_filter would be stranded: its transports
                are added back (and named) until that mail has left; run
                --rollback again then.

    enforce STREAM turns a stream in shadow on, in one step; shadow STREAM
    turns it back to watching. In this order, stopping at the first step
    that fails:
      1. every daemon with a status endpoint ([policyd] status, [milter]
         status, [rampd] status) must answer /status (none is optional:
         a stream is never left half switched), else nothing is changed;
         a milter or rampd without a status endpoint is named, to be
         reloaded by hand;
      2. the stream's `mode = ...` line in FILE is set (added after its
         name if it has none; nothing else in the file changes, owner and
         permissions are kept), once the new file parses and passes the
         checks of --check-config;
      3. each daemon is sent SIGHUP and waited for (15 s) until its /status
         shows the stream in the new mode;
      4. postfix-conf --apply (the stream's service gets the enforcing or
         the shadow restriction list and milter_default_action).
    Each step prints what it did ("FILE:LINE: old -> new", "reloaded").

    status asks the /status of every daemon the configuration gives a
    status endpoint ([policyd] status, [milter] status with a [milter]
    table, [rampd] status) and prints one table: up or not, pid, when it
    started, its reloads (ok, failed), Redis (ready, warnings, DOWN), the
    endpoint. Below it, one line for each thing to act on: a daemon that
    does not answer (and why), a last reload that failed, a daemon running
    another configuration file, Redis not connected or not keeping the
    counters (appendonly, maxmemory-policy), OpenDKIM's files unreadable.
    --json prints the same as a JSON array (each daemon's /status whole).
    Exit 1 when a daemon does not answer.

    report is the day's check in one screen, from the daemons' /status
    (rampd's above all: it reads the Postfix log and the hold queue). For
    each stream: the caps in force (the hourly cap as a rate: 150/h is one
    message every 24s; the ramp day), how many recipients were accepted
    today against the daily cap; today's delivery results by mailbox
    provider (sent, deferred, bounced, expired, the share delivered, and
    the share delivered in the last hour of how many results), marked
    when under 65%; the commonest deferral and bounce codes of the day;
    held mail and the oldest; breakers open or recovering and what tripped
    them. Then the suppression set and what was learned lately. The day is
    the configuration's calendar day, counted from what rampd has read
    since it started. Colours only on a terminal (and never with
    NO_COLOR set). --json gives the same for scripts. Exit 1 when a daemon
    does not answer (the report is still printed).

    classify splits an audience CSV for each stream with the lists, the
    operators' MX rules and the exclusions policyd enforces (its own code
    path): DIR/STREAM/institutional.csv, consumer.csv (consumer webmail the
    stream takes), direct.csv (Direct/HISP addresses the stream takes) and
    excluded.csv (what policyd would refuse, with its reason in an added
    column streamguard_reason). Every input column is kept, rows stay in
    the input's order, an address that came before (its domain's case
    ignored) is dropped as a duplicate, and a row with no usable address
    goes to DIR/rejects.csv with its line number and why. MX lookups use
    the configuration's [dns] (or --dns IP[:PORT]; --no-mx: none, a
    custom domain counts by its static lists alone), at most --concurrency
    at once (16), each domain once. A lookup that fails goes to
    excluded.csv when [dns] on_failure is defer or hold: run again later.
    A progress line on a terminal; a summary per stream at the end.
    Suppressed addresses are not looked up (they live in Redis: suppress
    show).

    suppress works on the addresses and domains no stream may mail
    ([[suppress]] in docs/configuration.md), in the config's Redis:
      show      Why ADDRESS (and its domain) or DOMAIN is refused and until
                when: the rule, when and from which stream it was learned,
                the receiver's reply. Exit 1 when neither is suppressed.
      add       Suppress ADDRESS or DOMAIN by hand for N days (default 365
                for an address, 30 for a domain); --reason is shown in the
                REJECT every stream answers and by show.
      remove    Take ADDRESS or DOMAIN out early, from every stream.
      list      Every entry in force, one a line, tab-separated: kind,
                address or domain, until, rule ("manual" by hand), stream
                that learned it, enhanced status, reply. The count goes to
                standard error.
      import    Suppress every address or domain of a CSV file (- for
                standard input). A first row naming an email, address or
                domain column is a header: Listmonk's subscriber export
                (only status blocklisted is taken), its bounce table (type
                hard and complaint; soft is skipped) or streamguard's own
                export. Otherwise each row is ADDRESS-OR-DOMAIN[,REASON
                [,UNTIL]]. UNTIL is a date (2027-06-17, UTC); without one,
                --days N or 365 (address) / 30 (domain). An entry already
                suppressed is kept as it is: an import run twice adds
                nothing. Prints what it added, kept, skipped (and why) and
                rejected (FILE:LINE: why; exit 1); a progress line on a
                terminal. --dry-run only counts.
      export    Every entry in force as CSV (kind,target,until,learned,
                rule,stream,dsn,reason) to --out FILE or standard output,
                for the audience builder. --domains: the domain entries as
                a domain list file, to review and append to the dead_isp
                list.
    audit-log is the isolation proof over a Postfix log (a maillog_file or
    a syslog file, plain or a rotated .gz): each message, from the service
    it came in by (a stream's submission service by its syslog_name, the
    operator's other smtpd services, pickup) to the transport that
    delivered it. Prints per stream the messages submitted, the results
    through its own transport (sent, deferred, bounced, expired), the
    breaches, and its egress transport, address and HELO from the config;
    then every delivery through the wrong path: a stream's message through
    another stream's transport or the default smtp, or mail of no stream
    (staff, cron) through a stream's transport. Exit 1 when there is one.
    --since DATE (2026-12-03 or 2026-12-03T08:00, UTC) skips earlier lines
    (classic syslog stamps are read in this year and the host's zone).
    Deliveries of messages that came in before the log starts are counted,
    not judged.

    explain says what streamguard-policyd would answer now for ADDRESS
    submitted on PORT, and why, step by step: the stream of the port, the
    lists the domain is on, its mailbox provider (the static map, else an
    MX lookup as policyd makes it, to --dns IP[:PORT] instead of [dns]
    servers when given), then from Redis (--redis URL instead of
    [redis] url) whether it is suppressed, the stream's and the provider's
    breakers, every cap in force with its usage and which one refuses,
    and the reply policyd would give (in shadow mode: DUNNO, and what it
    would answer enforcing). It runs policyd's own limiter script in a dry
    run: nothing is charged. Exit 0 when policyd would accept, 1 when it
    would refuse, defer or hold, 3 when the configuration is invalid or
    Redis cannot be asked (the on_error answer is shown).

    FILTER (list, export): --kind address|domain, --rule NAME ("manual" by
    hand, "import" imported), --stream NAME, --newer-than DAYS,
    --older-than DAYS (by when it was learned or added).
    An address and a domain are told apart by the "@". Keys are lower case.
    --redis URL (redis://HOST:PORT/DB, unix:///PATH or
    sentinel://HOST:PORT,.../MASTER) on any of them replaces the config's
    [redis] url, as the daemons' --redis does.

OPTIONS
    --config FILE   The streamguard configuration (required). Its lists are
                    read too. See docs/configuration.md, [postfix] and a
                    stream's postfix = { ... }.
    --out DIR       Write main.cf.fragment, master.cf.fragment,
                    streamguard-backstop.regexp and (with a [milter] table)
                    streamguard-egress-headers.regexp into DIR (created if
                    missing; files are replaced) and name what was written.
                    Without --out, they are printed to standard output,
                    each after a "#### streamguardctl: FILE ####" line.
    --postfix-config DIR
                    Read the current smtpd_recipient_restrictions,
                    smtpd_relay_restrictions and inet_interfaces from the
                    Postfix configured in DIR (postconf -c DIR). Default:
                    [rampd] postfix_config_dir, else Postfix's own default
                    (/etc/postfix). postconf is run from [rampd]
                    postfix_command_dir (/usr/sbin).
    --without-postfix
                    Do not ask postconf: render as for a stock Postfix 3.6
                    (no smtpd_recipient_restrictions of its own). For a
                    machine without Postfix, e.g. to read the output first.
    --help          This text.
    --version       The version.

FILES
    /etc/streamguard/streamguard.toml       the usual --config
    /etc/postfix/streamguard-backstop.regexp
                                            where the map goes by default
                                            ([postfix] backstop_dir)
    postfix-conf/                           the rendering of
                                            deploy/examples/streamguard.toml,
                                            kept in the repository

EXIT STATUS
    0 when rendered (or diffed, applied, rolled back, switched; status:
    every daemon answers; explain: policyd would accept); 1 when the
    configuration or a list is invalid (each problem printed as
    FILE:LINE:COLUMN: message), postconf cannot be run, the rendering would
    break Postfix (a stream on port 25 of every address), an output file
    cannot be written, or --apply or --rollback is refused or fails (the
    files are then as they were), or enforce or shadow stops at a step (it
    names the step and what is left as it was), or status or report finds
    a daemon that does not answer, or classify cannot read its input or
    write an output, or Redis cannot be reached or show finds nothing
    suppressed, or import rejected a row or could not read its file, or
    audit-log found a message that left through the wrong path, or
    explain finds that policyd would refuse, defer or hold (a stream in
    shadow: that it would, enforcing);
    2 on a usage error; for explain, 3 instead of 1 when the configuration
    is invalid or Redis cannot be asked.

EXAMPLES
    streamguardctl postfix-conf --config /etc/streamguard/streamguard.toml | less
    streamguardctl postfix-conf --config deploy/examples/streamguard.toml \
        --without-postfix --out postfix-conf
    streamguardctl postfix-conf --config /etc/streamguard/streamguard.toml --diff
    streamguardctl postfix-conf --config /etc/streamguard/streamguard.toml --apply
    streamguardctl enforce trucking --config /etc/streamguard/streamguard.toml
    streamguardctl status --config /etc/streamguard/streamguard.toml
    streamguardctl report --config /etc/streamguard/streamguard.toml
    streamguardctl classify --config /etc/streamguard/streamguard.toml \
        audience.csv --column email --out split/
    streamguardctl suppress show dr.who@clinic.example \
        --config /etc/streamguard/streamguard.toml
    streamguardctl suppress add old-practice.example --reason "practice closed" \
        --config /etc/streamguard/streamguard.toml
    streamguardctl suppress import listmonk-subscribers.csv \
        --config /etc/streamguard/streamguard.toml
    streamguardctl suppress export --domains --out dead-domains.txt \
        --config /etc/streamguard/streamguard.toml
    streamguardctl audit-log --config /etc/streamguard/streamguard.toml \
        --log /var/log/postfix.log.1.gz
    streamguardctl explain --config /etc/streamguard/streamguard.toml \
        --port 2526 --recipient dr.lee@gclinic.example
)";

}  // namespace sg
