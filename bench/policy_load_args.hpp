// streamguard-policy-load's command line and the traffic it sends: the
// options and their parser, the built-in recipient mix and the requests as
// Postfix's smtpd words them, and the answer's action as a kind to count.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.hpp"

namespace sg::policy_load {

struct Options {
  sg::Endpoint target;
  std::string target_text;
  unsigned connections = 32;
  double duration = 0;
  uint64_t requests = 0;
  double warmup = 2;
  std::vector<uint16_t> ports{25, 2526};
  std::string recipients_file;
  double timeout_ms = 10000;
  double max_seconds = 600;
  uint64_t seed = 1;
  bool json = false;
};

// The options, or nothing with `exit_code` set: 0 after --help, 2 (and a
// message on stderr) on a usage error.
std::optional<Options> parse_args(int argc, char** argv, int& exit_code);

// Every recipient (from --recipients, else the built-in mix) with every
// port, encoded once, so the generator spends its core on I/O. Nothing when
// the --recipients file cannot be read or is empty.
std::optional<std::vector<std::string>> request_pool(const Options& o);

enum ActionKind { kDunno, kReject, kDefer, kHold, kOtherAction, kActionKinds };
inline const char* kActionNames[kActionKinds] = {"DUNNO", "REJECT", "DEFER_IF_PERMIT", "HOLD",
                                                 "other"};

// The first word of an answer's action, case-insensitive.
ActionKind classify_action(std::string_view action);

}  // namespace sg::policy_load
