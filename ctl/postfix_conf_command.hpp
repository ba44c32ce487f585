// `streamguardctl postfix-conf`: the command around the renderer
// (ctl/postfix_conf.hpp) and the applier (ctl/postfix_apply.hpp): read the
// configuration and its lists, ask postconf what Postfix has now, render,
// then print, write (--out) or diff, apply, roll back.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace sg {

struct PostfixConfOptions {
  std::optional<std::string> config, out, postfix_config;
  bool without_postfix = false;
  std::string action;  // "", "--diff", "--apply" or "--rollback"
};

// Reads the arguments after "postfix-conf" into `o`: "" when they are
// usable, else what is wrong with them (a usage error).
std::string parse_postfix_conf_args(const std::vector<std::string>& args, PostfixConfOptions& o);

// Runs it; problems on stderr. The exit status (0 done, 1 failed).
int run_postfix_conf(const PostfixConfOptions& o);

}  // namespace sg
