// Reads what the installed Postfix has now (ctl/postfix_conf.hpp
// CurrentPostfix) with postconf, so the stream services are composed with
// the operator's own restrictions.
#pragma once

#include <optional>
#include <string>

#include "ctl/postfix_conf.hpp"

namespace sg {

// Runs `COMMAND_DIR/postconf [-c CONFIG_DIR] -h ...` and `... -xh ...` (no
// shell). Nothing, with `error` saying why, when postconf cannot be run or
// fails.
std::optional<CurrentPostfix> read_current_postfix(const std::string& command_dir,
                                                   const std::string& config_dir,
                                                   std::string& error);

}  // namespace sg
