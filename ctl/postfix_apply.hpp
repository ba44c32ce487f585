// `streamguardctl postfix-conf --diff | --apply | --rollback`: puts the
// rendering (ctl/postfix_conf.hpp) into a Postfix configuration directory
// with Postfix's own tools, and takes it out again.
//
//   diff      what --apply would change: each main.cf parameter and master.cf
//             entry, as Postfix has it now and as it would be.
//   apply     refuses while streamguard-policyd or the milter do not answer
//             (Postfix would defer or tempfail every stream message); keeps
//             main.cf and master.cf as they were before streamguard's first
//             apply (*.streamguard-orig, never overwritten by a later
//             apply); sets the parameters with `postconf -e` and the entries
//             with `postconf -M` (nothing else in the files changes);
//             installs the backstop map; runs `postfix check` (on failure
//             the files are put back as they were just before) and reloads a
//             running Postfix.
//   rollback  puts the *.streamguard-orig files back byte for byte. Mail
//             still queued that names a stream's transport
//             (content_filter=TRANSPORT:) would be stranded without it, so
//             those transports are added back, and said so, until the queue
//             no longer holds such mail. Then `postfix check` and reload.
//
// The Postfix programs come from [rampd] postfix_command_dir; parsing of
// the fragments is left to postconf itself (a scratch configuration
// directory holding them), so what is applied is what was rendered.
#pragma once

#include <string>

#include "common/config.hpp"
#include "ctl/postfix_conf.hpp"

namespace sg {

struct ApplyTarget {
  std::string config_dir;   // Postfix's configuration directory (postconf -c)
  std::string command_dir;  // where postconf, postfix, postqueue and postcat are
};

// Each prints what it does on stdout and what went wrong on stderr; the
// return value is the exit status (0 done, 1 refused or failed).
int postfix_diff(const Config& cfg, const PostfixConf& conf, const ApplyTarget& t);
int postfix_apply(const Config& cfg, const PostfixConf& conf, const ApplyTarget& t);
int postfix_rollback(const Config& cfg, const PostfixConf& conf, const ApplyTarget& t);

}  // namespace sg
