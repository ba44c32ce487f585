// Internal to the hygiene scanner (formats/hygiene*.cpp, formats/
// header_fields.cpp): the RFC 5322 / RFC 2045 header-field grammar the
// scanner's header and MIME parts both read with. Not for programs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/text.hpp"

namespace sg::hygiene {
// ASCII text helpers, for every part of the scanner.
using text::iequals;
using text::is_space;
using text::lower;
using text::trim;
}  // namespace sg::hygiene

namespace sg::hygiene::detail {

// Skips whitespace (folding included) and comments, which nest and may hold
// quoted pairs. An unterminated comment runs to the end.
void skip_cfws(std::string_view s, std::size_t& i);
// The disposition type of a Content-Disposition value, lowercase.
std::string parse_disposition(std::string_view value);
// The addresses of a mailbox-list header value (From:), `count` of them.
std::vector<std::string> mailbox_addresses(std::string_view v, std::size_t& count);
// The position of the '@' that starts the domain of an address: the last one
// outside quotes.
std::size_t domain_at(std::string_view addr);

}  // namespace sg::hygiene::detail
