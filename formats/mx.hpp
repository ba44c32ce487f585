// The answer to an MX query, parsed from DNS wire format (RFC 1035, name
// compression, RFC 2308 negative TTLs, RFC 7505 null MX). Which operator the
// hosts belong to is rules/mx_operator.hpp.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace sg {

// What one MX lookup found.
struct MxResult {
  enum class Kind {
    mx,        // MX hosts found
    null_mx,   // RFC 7505 "MX 0 .": the domain accepts no mail
    no_mx,     // the name exists, it has no MX (mail would go to its A/AAAA)
    nxdomain,  // the name does not exist
    failure,   // timeout, SERVFAIL, REFUSED, a malformed answer, a network error
  };
  Kind kind = Kind::failure;
  std::vector<std::string> hosts;  // lowercase, no trailing dot, by preference
  // Seconds the answer may be kept: the smallest TTL of the MX (and CNAME)
  // records; for nxdomain/no_mx the SOA's negative TTL (RFC 2308);
  // nullopt when the answer says nothing (then the config's defaults apply).
  std::optional<uint32_t> ttl;
  std::string error;  // for failure: what went wrong, for the log
};
const char* to_string(MxResult::Kind k);

// Parses a complete DNS response to an MX query (RFC 1035 wire format, name
// compression included). Never reads outside `msg`; anything it cannot make
// sense of is a failure with a reason.
MxResult parse_mx_response(std::span<const uint8_t> msg);

}  // namespace sg
